/*
 * Copyright (C) the XYZ sign-up authors
 *
 * SQS answers: SendMessageBatch results, error bodies, ReceiveMessage and
 * DeleteMessageBatch results.
 */

#include "fuzz.h"
#include <ngx_xyz_sqs_json.h>
#include <ngx_xyz_sqs_consume.h>


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     i, n;
    char                   *s, *arena, err[256];
    size_t                  arena_size;
    unsigned char           ok[10];
    ngx_xyz_sqs_msg_t       m[3];
    ngx_xyz_sqs_received_t  r[10];

    s = xyz_fuzz_str(data, size);

    for (i = 0; i < 3; i++) {
        m[i].id = i + 1;
        m[i].body = "{}";
        m[i].body_len = 2;
        m[i].group = NULL;
    }

    (void) ngx_xyz_sqs_batch_result(s, m, 3, ok, err, sizeof(err));
    if (memchr(err, '\0', sizeof(err)) == NULL) {
        abort();
    }

    if (ngx_xyz_sqs_error(s, err, sizeof(err)) == 0
        && memchr(err, '\0', sizeof(err)) == NULL)
    {
        abort();
    }

    arena_size = size + 10 * 1024;
    arena = malloc(arena_size);
    if (arena == NULL) {
        abort();
    }

    n = ngx_xyz_sqs_receive_result(s, r, 10, arena, arena_size);
    for (i = 0; i < n; i++) {
        if (strlen(r[i].body) != r[i].body_len) {
            abort();
        }
    }

    (void) ngx_xyz_sqs_delete_batch_result(s, 10, ok);

    free(arena);
    free(s);

    return 0;
}
