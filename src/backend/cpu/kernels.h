/* Umbrella header for the CPU compute kernels: thread pool, matmul/vector helpers, ops, attention. */
#ifndef RL_KERNELS_H
#define RL_KERNELS_H
#include "backend/cpu/threadpool.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/attention.h"
#endif
