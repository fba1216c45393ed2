/* error.c — see error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mcdc_errf(mcdc_err *err, mcdc_code code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void mcdc_err_prefix(mcdc_err *err, const char *fmt, ...) {
    if (!err) return;
    /* Build "<context>: " and then move the old text behind it; whatever does
     * not fit is cut from the end, where the least specific words are. */
    char old[MCDC_ERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    size_t used = n < 0 ? 0 : (size_t)n;
    if (used >= sizeof err->msg - 1) return;
    size_t room = sizeof err->msg - 1 - used;
    const char *parts[2] = {": ", old};
    for (int i = 0; i < 2 && room; i++) {
        size_t k = strnlen(parts[i], room);
        memcpy(err->msg + used, parts[i], k);
        used += k;
        room -= k;
    }
    err->msg[used] = '\0';
}

void mcdc_err_clear(mcdc_err *err) {
    if (!err) return;
    err->code = MCDC_OK;
    err->msg[0] = '\0';
}

bool mcdc_err_is_transient(mcdc_code code) {
    return code == MCDC_EUNAVAIL || code == MCDC_ETIMEOUT || code == MCDC_ERATELIMIT;
}

const char *mcdc_code_name(mcdc_code code) {
    switch (code) {
    case MCDC_OK: return "ok";
    case MCDC_EINVAL: return "invalid";
    case MCDC_EDECODE: return "decode";
    case MCDC_ENOTFOUND: return "not_found";
    case MCDC_EEXIST: return "exists";
    case MCDC_EUNAVAIL: return "unavailable";
    case MCDC_ETIMEOUT: return "timeout";
    case MCDC_ERATELIMIT: return "rate_limited";
    case MCDC_EREMOTE: return "remote";
    case MCDC_EIO: return "io";
    case MCDC_ENOMEM: return "no_memory";
    case MCDC_ECANCELED: return "canceled";
    case MCDC_EINTERNAL: return "internal";
    case MCDC_ENOTOWNER: return "not_owner";
    }
    return "unknown";
}
