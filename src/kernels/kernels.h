/* Umbrella header for the CPU compute kernels: thread pool, matmul/vector helpers, ops, attention. */
#ifndef RL_KERNELS_H
#define RL_KERNELS_H
#include "kernels/cpu/threadpool.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/attention.h"
#endif
