// socp_sup.h: the supervisor: starts actors in order, watches signals and
// actor faults, stops actors in reverse order.
//
// The process calls socp_platform_block_signals() first thing in main(),
// before any thread exists, so SIGINT/SIGTERM/SIGHUP reach only the
// supervisor's signalfd. Thread affinity: the thread that created it.
#ifndef SOCP_SUP_H
#define SOCP_SUP_H

#include "socp/socp_actor.h"

typedef struct socp_sup socp_sup_t;

typedef enum {
    SOCP_SUP_TIMEOUT = 0, // nothing happened before the timeout
    SOCP_SUP_SIGNAL,      // a signal arrived (signo)
    SOCP_SUP_FAULT,       // an actor reported a FAULT (actor, code, detail)
    SOCP_SUP_EXIT,        // an actor ended on its own (actor, code = status)
} socp_sup_event_kind_t;

typedef struct {
    socp_sup_event_kind_t kind;
    int signo;         // SIGNAL
    const char *actor; // FAULT, EXIT: the actor's name (valid until stop)
    int code;          // FAULT: error code; EXIT: exit status
    char detail[257];  // FAULT: one line
} socp_sup_event_t;

// Creates a supervisor on `bus`. With watch_signals, it reads SIGINT,
// SIGTERM and SIGHUP through a signalfd (they must be blocked already).
SOCP_NODISCARD int socp_sup_new(socp_bus_t *bus, bool watch_signals, socp_sup_t **out);

// Starts an actor and appends it to the stop order. On failure the actors
// already started keep running (call socp_sup_stop).
SOCP_NODISCARD int socp_sup_start(socp_sup_t *self,
                                  const char *name,
                                  socp_actor_fn *fn,
                                  void *args,
                                  const socp_actor_opts_t *opts);

// Waits up to timeout_ms (-1: forever) for the next event.
int socp_sup_wait(socp_sup_t *self, int timeout_ms, socp_sup_event_t *ev);

// Stops every actor in reverse start order, each with `deadline_ms`.
// Returns 0, or the first non-zero exit status / SOCP_ETIMEDOUT.
int socp_sup_stop(socp_sup_t *self, int deadline_ms);

// The handle of a running actor by name (NULL if none).
socp_actor_t *socp_sup_actor(socp_sup_t *self, const char *name);

// Stops whatever still runs (1 s deadline each) and frees the supervisor.
void socp_sup_destroy(socp_sup_t **self_p);

#endif
