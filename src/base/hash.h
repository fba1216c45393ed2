/* hash.h — the one 64-bit hash of a string (FNV-1a): primary keys of type
 * varchar are hashed by overlap.c's key maps and by the channel worker's keys
 * in flight (inflight.c). Not for anything an attacker could aim at a table:
 * both hash keys that the source already accepted. */
#ifndef MCDC_HASH_H
#define MCDC_HASH_H

#include <stdint.h>

static inline uint64_t mcdc_hash_str(uint64_t seed, const char *s) {
    uint64_t h = 1469598103934665603ULL ^ seed;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

#endif
