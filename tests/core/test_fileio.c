/* Whole-file reads and atomic writes: contents, NUL bytes, the kept previous file, and a
 * failed write that leaves nothing behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/check.h"
#include "ameir/error.h"
#include "ameir/fileio.h"

static char dir[] = "/tmp/ameir_test_fileio_XXXXXX";

static void test_read(void) {
    char path[256], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_EQ_INT(ameir_file_read(path, &text, &len), AMEIR_ENOENT);
    CHECK_STR_CONTAINS(ameir_last_error(), "missing: cannot open: No such file or directory");
    CHECK(text == NULL);
    /* a file larger than the first chunk, with a NUL byte: len counts every byte */
    snprintf(path, sizeof path, "%s/big", dir);
    size_t n = 10000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    data[5000] = '\0';
    CHECK_EQ_INT(ameir_file_write_atomic(path, data, n), 0);
    CHECK_EQ_INT(ameir_file_read(path, &text, &len), 0);
    CHECK_EQ_INT(len, n);
    CHECK(text && !memcmp(text, data, n) && text[n] == '\0');
    CHECK_EQ_INT(strlen(text), 5000);
    free(text);
    free(data);
    /* an empty file */
    snprintf(path, sizeof path, "%s/empty", dir);
    CHECK_EQ_INT(ameir_file_write_atomic(path, "", 0), 0);
    CHECK_EQ_INT(ameir_file_read(path, &text, &len), 0);
    CHECK_EQ_INT(len, 0);
    CHECK(text && text[0] == '\0');
    free(text);
    unlink(path);
    snprintf(path, sizeof path, "%s/big", dir);
    unlink(path);
}

static void test_atomic(void) {
    char path[256], prev[256], tmp[256], *text = NULL;
    snprintf(path, sizeof path, "%s/out.txt", dir);
    snprintf(prev, sizeof prev, "%s/out.txt.prev", dir);
    snprintf(tmp, sizeof tmp, "%s/out.txt.tmp", dir);
    CHECK_EQ_INT(ameir_file_write_atomic(path, "one\n", 4), 0);
    /* a second write through a FILE*, keeping the first as .prev */
    ameir_atomic_file w;
    CHECK_EQ_INT(ameir_atomic_fopen(&w, path), 0);
    fprintf(w.f, "two\n");
    CHECK(access(tmp, F_OK) == 0);
    CHECK_EQ_INT(ameir_file_read(path, &text, NULL), 0); /* not yet replaced */
    CHECK(text && !strcmp(text, "one\n"));
    free(text);
    CHECK_EQ_INT(ameir_atomic_commit(&w, prev), 0);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_EQ_INT(ameir_file_read(path, &text, NULL), 0);
    CHECK(text && !strcmp(text, "two\n"));
    free(text);
    CHECK_EQ_INT(ameir_file_read(prev, &text, NULL), 0);
    CHECK(text && !strcmp(text, "one\n"));
    free(text);
    /* given up: the old file stays, the temporary goes */
    CHECK_EQ_INT(ameir_atomic_fopen(&w, path), 0);
    fprintf(w.f, "three\n");
    ameir_atomic_abort(&w);
    ameir_atomic_abort(&w);
    CHECK(access(tmp, F_OK) != 0);
    CHECK_EQ_INT(ameir_file_read(path, &text, NULL), 0);
    CHECK(text && !strcmp(text, "two\n"));
    free(text);
    /* a missing directory fails cleanly and names the file */
    CHECK_EQ_INT(ameir_file_write_atomic("/nonexistent/dir/x.txt", "x", 1), AMEIR_EIO);
    CHECK_STR_CONTAINS(ameir_last_error(), "/nonexistent/dir/x.txt: cannot create /nonexistent/dir/x.txt.tmp");
    unlink(path);
    unlink(prev);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_read();
    test_atomic();
    rmdir(dir);
    return check_finish("test_fileio");
}
