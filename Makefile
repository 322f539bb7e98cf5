# rabbitllm build: library (build/librabbitllm.a), CLI (build/rabbitllm), tests (build/tests/*).
# `make` builds; `make check` runs every test (release + ASan/UBSan builds) and a warning-free clang
# build; `make demo` runs the example.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(OPT) -g -pthread -Iinclude -Isrc $(EXTRA_CFLAGS)
LDLIBS  += -lcjson -lpcre2-8 -lutf8proc -lcurl -lm -pthread
CLI_LDLIBS = -lreadline -lmicrohttpd

LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' ! -path 'src/server/*' | sort)
CLI_SRC  := $(shell find src/cli src/server -name '*.c' | sort)
TEST_SRC := $(shell find tests -name 'test_*.c' | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# Optional CUDA matmul offload (src/backend/cuda/): `make CUDA=1` compiles the .cu files with nvcc
# and links cuBLAS + the CUDA runtime; without it nothing needs nvcc (stub.c keeps the symbols).
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc))
NVCC      ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
CU_SRC    := $(shell find src -name '*.cu' | sort)
LIB_OBJ   += $(CU_SRC:%.cu=$(BUILD)/obj/%.cu.o)
CFLAGS    += -DRL_CUDA_BUILD
LDLIBS    += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++

$(BUILD)/obj/%.cu.o: %.cu src/backend/cuda/cuda.h
	@mkdir -p $(dir $@)
	$(NVCC) -O3 -std=c++17 $(CUDA_ARCH) -Iinclude -Isrc -Xcompiler -Wall -c $< -o $@
endif

all: $(BUILD)/rabbitllm $(TEST_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/librabbitllm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/rabbitllm: $(CLI_OBJ) $(BUILD)/librabbitllm.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/librabbitllm.a $(LDLIBS) $(CLI_LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/librabbitllm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/librabbitllm.a $(LDLIBS)

# Benchmark tools (not part of `all`): build/bench_matmul (kernel microbenchmark), build/st2gguf
# (safetensors -> GGUF for bench/vs-llama-cpp.sh).
bench: $(BUILD)/bench_matmul $(BUILD)/st2gguf

$(BUILD)/bench_matmul $(BUILD)/st2gguf: $(BUILD)/%: bench/%.c $(BUILD)/librabbitllm.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/librabbitllm.a $(LDLIBS)

deps:
	@sh scripts/deps.sh

# The whole suite: release build, then the ASan+UBSan build of the same tests.
check: deps
	$(MAKE) all CC=clang BUILD=build-clang EXTRA_CFLAGS=-Werror   # -Wall -Wextra clean with clang too
	$(MAKE) all
	sh tests/run.sh $(BUILD)
	$(MAKE) all BUILD=build-asan OPT=-O1 EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	ASAN_OPTIONS=detect_leaks=1 RL_SANITIZED=1 sh tests/run.sh build-asan

demo: deps
	$(MAKE) $(BUILD)/rabbitllm
	$(BUILD)/rabbitllm run ../shared/fixtures/stories260K --ids 1,403,407,261,378 -n 32 --temp 0
	$(BUILD)/rabbitllm run ../shared/fixtures/stories260K -p "Once upon a time" -n 64 --temp 0

clean:
	rm -rf build build-asan

.PHONY: all deps check demo clean
-include $(DEPS)
