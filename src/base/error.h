/* error.h — the one error type of mcdc.
 *
 * Errors are values: a code that callers branch on and a message that a human
 * reads. A failing function fills the caller's mcdc_err and returns -1 (or
 * NULL); the message says what was wrong and where, so it can be logged or
 * returned over HTTP as it is. Context is added on the way up with
 * mcdc_err_prefix(), the way a stack trace would, but readable. */
#ifndef MCDC_ERROR_H
#define MCDC_ERROR_H

#include <stdbool.h>

typedef enum mcdc_code {
    MCDC_OK = 0,
    MCDC_EINVAL,       /* bad input from a user: config, request, flag */
    MCDC_EDECODE,      /* bytes from the source that do not decode */
    MCDC_ENOTFOUND,    /* a named thing does not exist */
    MCDC_EEXIST,       /* a named thing exists already */
    MCDC_EUNAVAIL,     /* a server cannot be reached or is not ready: retry */
    MCDC_ETIMEOUT,     /* a deadline passed: retry */
    MCDC_ERATELIMIT,   /* the server asked us to slow down: retry */
    MCDC_EREMOTE,      /* a server refused the request for good */
    MCDC_EIO,          /* local file or database trouble */
    MCDC_ENOMEM,
    MCDC_ECANCELED,    /* stopped on purpose (shutdown, pause) */
    MCDC_EINTERNAL,    /* a bug in mcdc */
    MCDC_ENOTOWNER,    /* another mcdc instance owns the task now (store.h): stop it here, do not retry */
} mcdc_code;

#define MCDC_ERR_MSG_MAX 512

typedef struct mcdc_err {
    mcdc_code code;
    char msg[MCDC_ERR_MSG_MAX];
} mcdc_err;

/* Sets *err (if err is not NULL) and returns -1, so that a failing path reads
 * `return mcdc_errf(err, MCDC_EINVAL, "bad port %d", p);`. */
int mcdc_errf(mcdc_err *err, mcdc_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "<context>: " in front of the message already in *err. */
void mcdc_err_prefix(mcdc_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void mcdc_err_clear(mcdc_err *err);

/* True for errors that heal by themselves (the server comes back, the rate
 * limit lifts): these are retried with backoff, forever, never paused on. */
bool mcdc_err_is_transient(mcdc_code code);

/* Stable lower-case name of a code, for logs and JSON ("decode", "unavailable"). */
const char *mcdc_code_name(mcdc_code code);

#endif
