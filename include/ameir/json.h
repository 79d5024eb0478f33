/* Strict JSON text -> cJSON tree: the one parser of every file a user gives AMEIR-C (dataset
 * and search configs, arch files, a dataset's meta.json). cJSON alone is lenient where a
 * config must not be: it skips any byte below 0x21 as white space, keeps the last of two
 * equal keys, and stops at a NUL byte. Errors (AMEIR_EJSON but the last) name the file and where:
 *   "ORIGIN: got a NUL byte at offset N, expected JSON text"
 *   "ORIGIN:LINE:COL: got control byte 0x01, expected JSON text" (also inside a string)
 *   "ORIGIN:LINE:COL: got \\u0000 inside a string, expected no NUL character"
 *   "ORIGIN:LINE:COL: got a number with a leading zero, expected JSON number syntax"
 *   "ORIGIN:LINE:COL: JSON syntax error: got \"...\", expected valid JSON"
 *   "ORIGIN:LINE:COL: JSON syntax error: got the end of the text, expected more JSON"
 *   "ORIGIN: PATH.KEY: got the key twice, expected each key once" (AMEIR_ECONFIG) */
#ifndef AMEIR_JSON_H
#define AMEIR_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* len is the number of bytes of text (a NUL before it is refused). *root is the caller's
 * to cJSON_Delete; NULL on error. */
int ameir_json_parse(cJSON **root, const char *text, size_t len, const char *origin);

#endif
