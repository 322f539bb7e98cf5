# rabbitllm build: libraries (build/librabbitllm.a, build/librabbitllm.so), CLI (build/rabbitllm),
# tests (build/tests/*). `make` builds; `make check` runs every test (release + ASan/UBSan builds)
# and a warning-free clang build; `make demo` streams text from the bundled models/stories260K
# (MIT, 1.2 MB); `make install PREFIX=/usr/local DESTDIR=` / `make uninstall`.
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra $(OPT) -g -pthread -fPIC -fvisibility=hidden -Iinclude -Isrc $(EXTRA_CFLAGS)
# What the core library needs; libcurl only for the hub downloads (src/hub/download.c, NET_SRC),
# which are in librabbitllm.a for the CLI (a program that does not call them links without
# -lcurl) and left out of librabbitllm.so.
CORE_LDLIBS = -lcjson -lpcre2-8 -lutf8proc -lm -pthread $(CUDA_LDLIBS) $(VK_LDLIBS)
LDLIBS  += $(CORE_LDLIBS) -lcurl
CLI_LDLIBS = -lreadline -lmicrohttpd
NET_SRC := src/hub/download.c

VERSION := $(shell sed -n 's/^\#define RL_VERSION_STRING "\(.*\)"/\1/p' include/rabbitllm.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib

# The vulkan backend (src/backend/vulkan/) is built by default where the Vulkan headers and loader
# (libvulkan-dev) and glslc are present; VULKAN=0 leaves it out. Its shaders are compiled to
# SPIR-V by glslc into $(BUILD)/spv/*.h (C arrays) and embedded in the library.
ifeq ($(origin VULKAN),undefined)
VULKAN  := $(shell pkg-config --exists vulkan 2>/dev/null && command -v glslc >/dev/null 2>&1 && echo 1 || echo 0)
endif
LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' ! -path 'src/server/*' ! -path 'src/backend/vulkan/*' ! -path 'src/dist/mpi/*' | sort)
# The MPI pipeline (src/dist/mpi/): `make MPI=1` compiles everything with mpicc (Open MPI:
# libopenmpi-dev, openmpi-bin) and runs under `mpirun -np N build/rabbitllm ...`; without it
# src/dist/stub.c keeps one process and nothing needs MPI.
ifeq ($(MPI),1)
CC       := $(or $(MPICC),mpicc)
LIB_SRC  := $(filter-out src/dist/stub.c,$(LIB_SRC)) $(sort $(wildcard src/dist/mpi/*.c))
CFLAGS   += -DRL_MPI_BUILD
endif
ifeq ($(VULKAN),1)
LIB_SRC  += $(sort $(wildcard src/backend/vulkan/*.c))
CFLAGS   += -DRL_VULKAN_BUILD
VK_LDLIBS = -lvulkan
VK_SHADERS := $(sort $(wildcard src/backend/vulkan/shaders/*.comp))
VK_SPV   := $(foreach s,$(VK_SHADERS),$(patsubst src/backend/vulkan/shaders/%.comp,$(BUILD)/spv/%_0.h,$(s)) \
                                      $(patsubst src/backend/vulkan/shaders/%.comp,$(BUILD)/spv/%_1.h,$(s)))
endif
CLI_SRC  := $(shell find src/cli src/server -name '*.c' | sort)
TEST_SRC := $(shell find tests -name 'test_*.c' | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
SO_OBJ    = $(filter-out $(NET_SRC:%.c=$(BUILD)/obj/%.o),$(LIB_OBJ))
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_BIN := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
# Fuzz targets (tests/fuzz/fuzz_NAME.c): replayed over their regression corpus by
# $(BUILD)/tests/fuzz/replay_NAME in every test build; fuzzed by `make fuzz`.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_REPLAY := $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz/replay_%)
DEPS     := $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

# Optional CUDA backend (src/backend/cuda/): `make CUDA=1` compiles the .cu files with nvcc and
# links cuBLAS + the CUDA runtime; without it nothing needs nvcc (backend "cuda" is then not built).
ifeq ($(CUDA),1)
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(shell command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc))
NVCC      ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCH ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
CU_SRC    := $(shell find src -name '*.cu' | sort)
LIB_OBJ   += $(CU_SRC:%.cu=$(BUILD)/obj/%.cu.o)
CFLAGS    += -DRL_CUDA_BUILD
CUDA_LDLIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++

$(BUILD)/obj/%.cu.o: %.cu src/backend/cuda/cu_api.h src/backend/cuda/cu_common.cuh src/backend/cuda/cu_gguf.cuh
	@mkdir -p $(dir $@)
	$(NVCC) -O3 -std=c++17 $(CUDA_ARCH) -Iinclude -Isrc -Xcompiler -Wall,-fPIC -c $< -o $@
endif

all: $(BUILD)/rabbitllm $(BUILD)/librabbitllm.so $(TEST_BIN) $(FUZZ_REPLAY)

$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/spv/%_0.h: src/backend/vulkan/shaders/%.comp $(wildcard src/backend/vulkan/shaders/*.glsl)
	@mkdir -p $(dir $@)
	glslc --target-env=vulkan1.2 -O -DSG=0 -mfmt=c -o $@ $<

$(BUILD)/spv/%_1.h: src/backend/vulkan/shaders/%.comp $(wildcard src/backend/vulkan/shaders/*.glsl)
	@mkdir -p $(dir $@)
	glslc --target-env=vulkan1.2 -O -DSG=1 -mfmt=c -o $@ $<

$(BUILD)/obj/src/backend/vulkan/vk_shaders.o: src/backend/vulkan/vk_shaders.c $(VK_SPV) Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(BUILD)/spv -MMD -MP -c $< -o $@

$(BUILD)/librabbitllm.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The shared library exports only the RL_API functions of include/rabbitllm.h.
$(BUILD)/librabbitllm.so: $(SO_OBJ)
	$(CC) $(CFLAGS) -shared -Wl,-soname,librabbitllm.so.$(SOMAJOR) -Wl,--no-undefined -o $@ $^ $(CORE_LDLIBS)

$(BUILD)/rabbitllm: $(CLI_OBJ) $(BUILD)/librabbitllm.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/librabbitllm.a $(LDLIBS) $(CLI_LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/test.h $(BUILD)/librabbitllm.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -MF $@.d -Itests -o $@ $< $(BUILD)/librabbitllm.a $(LDLIBS)

# Server unit tests also link the server's objects (they are not in the library).
SERVER_OBJ := $(filter $(BUILD)/obj/src/server/%,$(CLI_OBJ))
$(BUILD)/tests/server/%: tests/server/%.c tests/test.h $(BUILD)/librabbitllm.a $(SERVER_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(SERVER_OBJ) $(BUILD)/librabbitllm.a $(LDLIBS) $(CLI_LDLIBS)

FUZZ_DEPS = tests/fuzz/fuzz.h $(BUILD)/librabbitllm.a $(BUILD)/obj/src/server/oai.o
$(BUILD)/tests/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests -DFUZZ_NAME=$* -o $@ $< tests/fuzz/replay.c $(BUILD)/obj/src/server/oai.o $(BUILD)/librabbitllm.a $(LDLIBS)

$(BUILD)/fuzz/%: tests/fuzz/fuzz_%.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -Itests -o $@ $< $(BUILD)/obj/src/server/oai.o $(BUILD)/librabbitllm.a $(LDLIBS)

# libFuzzer (clang): builds build-fuzz/fuzz/NAME for every target and runs each for FUZZ_SECONDS
# (scripts/fuzz.sh: seeds from tests/fuzz/corpus and ../shared, crashes saved under build-fuzz/).
FUZZ_SECONDS ?= 60
FUZZ_FLAGS = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz-build:
	$(MAKE) CC=clang BUILD=build-fuzz OPT=-O1 VULKAN=0 EXTRA_CFLAGS="$(FUZZ_FLAGS)" $(FUZZ_NAMES:%=build-fuzz/fuzz/%)
fuzz: fuzz-build
	sh scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# ThreadSanitizer build of the threaded tests (thread pool, the matmul kernels on it, loader prefetch, expert reader in
# the MoE tests, server), called from .ci/run.
TSAN_TESTS = tests/backend/test_threadpool tests/io/test_loader tests/engine/test_moe tests/backend/test_matmul tests/backend/test_ggml_quants \
             tests/backend/test_attention tests/backend/test_attention_ggml
tsan:
	$(MAKE) BUILD=build-tsan OPT=-O1 VULKAN=0 EXTRA_CFLAGS="-fsanitize=thread -fno-omit-frame-pointer" $(TSAN_TESTS:%=build-tsan/%) build-tsan/rabbitllm
	@for t in $(TSAN_TESTS); do echo "tsan: $$t"; TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" build-tsan/$$t >build-tsan/$$(basename $$t).log 2>&1 \
	    || { tail -n 40 build-tsan/$$(basename $$t).log; exit 1; }; tail -n 1 build-tsan/$$(basename $$t).log; done
	TSAN_OPTIONS=halt_on_error=1 RL_BIN=build-tsan/rabbitllm RL_BUILD=build-tsan sh tests/server/serve.sh >build-tsan/serve.log 2>&1; \
	    rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 77 ] || { tail -n 40 build-tsan/serve.log; exit 1; }; echo "tsan: serve.sh rc $$rc"

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
	if command -v mpicc >/dev/null 2>&1; then $(MAKE) all MPI=1 BUILD=build-mpi; fi   # tests/dist/*.sh run its pipeline
	sh tests/run.sh $(BUILD)
	$(MAKE) all BUILD=build-asan OPT=-O1 EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
	ASAN_OPTIONS=detect_leaks=1 RL_SANITIZED=1 sh tests/run.sh build-asan

demo: deps
	$(MAKE) $(BUILD)/rabbitllm
	@printf '\n$$ $(BUILD)/rabbitllm run models/stories260K --raw -p "Once upon a time" -n 64 --temp 0\nOnce upon a time'
	@$(BUILD)/rabbitllm run models/stories260K --raw -p "Once upon a time" -n 64 --temp 0
	@printf '\n$$ $(BUILD)/rabbitllm run models/stories260K --raw -p "The little dog" -n 96 --temp 0.8 --seed 7\nThe little dog'
	@$(BUILD)/rabbitllm run models/stories260K --raw -p "The little dog" -n 96 --temp 0.8 --seed 7

# Installs the CLI, header, both libraries (the .so with its soname link), rabbitllm.pc and the
# man page under $(DESTDIR)$(PREFIX); `make uninstall` removes exactly those files.
install: $(BUILD)/rabbitllm $(BUILD)/librabbitllm.a $(BUILD)/librabbitllm.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/rabbitllm $(DESTDIR)$(PREFIX)/bin/rabbitllm
	install -m 644 include/rabbitllm.h $(DESTDIR)$(PREFIX)/include/rabbitllm.h
	install -m 644 $(BUILD)/librabbitllm.a $(DESTDIR)$(LIBDIR)/librabbitllm.a
	install -m 755 $(BUILD)/librabbitllm.so $(DESTDIR)$(LIBDIR)/librabbitllm.so.$(VERSION)
	ln -sf librabbitllm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librabbitllm.so.$(SOMAJOR)
	ln -sf librabbitllm.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/librabbitllm.so
	sed -e 's|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|; s|@VERSION@|$(VERSION)|; s|@LIBS_PRIVATE@|$(strip $(CORE_LDLIBS))|' \
	    scripts/rabbitllm.pc.in >$(DESTDIR)$(LIBDIR)/pkgconfig/rabbitllm.pc
	install -m 644 docs/rabbitllm.1 $(DESTDIR)$(PREFIX)/share/man/man1/rabbitllm.1

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/rabbitllm $(DESTDIR)$(PREFIX)/include/rabbitllm.h \
	      $(DESTDIR)$(LIBDIR)/librabbitllm.a $(DESTDIR)$(LIBDIR)/librabbitllm.so.$(VERSION) \
	      $(DESTDIR)$(LIBDIR)/librabbitllm.so.$(SOMAJOR) $(DESTDIR)$(LIBDIR)/librabbitllm.so \
	      $(DESTDIR)$(LIBDIR)/pkgconfig/rabbitllm.pc $(DESTDIR)$(PREFIX)/share/man/man1/rabbitllm.1

clean:
	rm -rf build build-asan build-clang build-fuzz build-tsan

.PHONY: all deps check demo clean install uninstall fuzz fuzz-build tsan
-include $(DEPS)
-include $(wildcard $(BUILD)/tests/*/*.d)   # the headers each test includes (e.g. tests/engine/golden_cmp.h)
