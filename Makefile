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
CORE_LDLIBS = -lcjson -lpcre2-8 -lutf8proc -lm -pthread $(CUDA_LDLIBS)
LDLIBS  += $(CORE_LDLIBS) -lcurl
CLI_LDLIBS = -lreadline -lmicrohttpd
NET_SRC := src/hub/download.c

VERSION := $(shell sed -n 's/^\#define RL_VERSION_STRING "\(.*\)"/\1/p' include/rabbitllm.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib

LIB_SRC  := $(shell find src -name '*.c' ! -path 'src/cli/*' ! -path 'src/server/*' | sort)
CLI_SRC  := $(shell find src/cli src/server -name '*.c' | sort)
TEST_SRC := $(shell find tests -name 'test_*.c' | sort)
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
SO_OBJ    = $(filter-out $(NET_SRC:%.c=$(BUILD)/obj/%.o),$(LIB_OBJ))
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
CUDA_LDLIBS = -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublas -lcudart -lstdc++

$(BUILD)/obj/%.cu.o: %.cu src/backend/cuda/cuda.h
	@mkdir -p $(dir $@)
	$(NVCC) -O3 -std=c++17 $(CUDA_ARCH) -Iinclude -Isrc -Xcompiler -Wall,-fPIC -c $< -o $@
endif

all: $(BUILD)/rabbitllm $(BUILD)/librabbitllm.so $(TEST_BIN)

$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

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
	$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/librabbitllm.a $(LDLIBS)

# Kernel microbenchmarks (not part of `all`): build/bench_matmul.
bench: $(BUILD)/bench_matmul

$(BUILD)/bench_matmul: bench/bench_matmul.c $(BUILD)/librabbitllm.a
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
	rm -rf build build-asan build-clang

.PHONY: all deps check demo clean install uninstall
-include $(DEPS)
