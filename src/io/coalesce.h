/* Read planning shared by the stage loader and the expert reader: tensors (byte spans of
 * checkpoint files) laid out in one buffer, spans that touch or overlap in a file read as one
 * range, each range starting 64-byte aligned. */
#ifndef RL_COALESCE_H
#define RL_COALESCE_H
#include <stddef.h>
#include <stdint.h>

/* File offsets, lengths and buffer addresses of O_DIRECT reads are multiples of this. */
#define RL_DIO_ALIGN 4096

typedef struct {
    int file;          /* checkpoint file index */
    uint64_t off, len; /* byte range in that file */
    size_t buf_off;    /* where it lands in the buffer */
    int dio;           /* 1: laid out for O_DIRECT: buf_off = off (mod RL_DIO_ALIGN) and the buffer
                          holds [off, off+len) widened to RL_DIO_ALIGN on both sides, overlapping
                          no other range (the read may fill the widening with neighbouring bytes) */
} rl_read_range;

#define RL_COALESCE_MAX 128 /* spans per call */

typedef struct { int file; uint64_t off, len; } rl_span;

/* Lays spans[0..n) out from buffer offset `base`: sorted by (file, offset), merged where they
 * touch or overlap. Each range starts 64-byte aligned; with dio, a range whose file offset is
 * 8-byte aligned (safetensors aligns its data to 8) is instead placed at the same offset modulo
 * RL_DIO_ALIGN with its widened extent to itself, so it can be read with O_DIRECT straight into
 * place (base a multiple of RL_DIO_ALIGN). Writes the ranges to out (at most n; returns how
 * many), each span's buffer offset to span_off[i], and the 64-aligned end of the buffer used
 * to *end. */
int rl_coalesce(const rl_span *spans, int n, size_t base, rl_read_range *out, size_t *span_off, size_t *end, int dio);

#endif
