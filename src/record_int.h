/*
 * record_int.h - run.json's text, for record.c (record_json.c).
 *
 * The cache belongs to one struct record and is used under its lock.
 */
#ifndef ONEOFF_RECORD_INT_H
#define ONEOFF_RECORD_INT_H

#include "oneoff/record.h"

/* run.json's text for run and hosts[0..n), ending with a newline; *len
 * gets its length. Hosts whose fields are the same as in the previous
 * call with cache (same index) are not rendered again. Returns NULL when
 * the text cannot be made. Caller frees. */
char *record_json(struct record_json_cache *cache, const struct record_run *run,
                  const struct record_host *hosts, size_t n, bool logs_lost,
                  size_t *len);
void record_json_cache_release(struct record_json_cache *cache);

#endif
