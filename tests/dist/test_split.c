/* The pipeline's layer split (src/dist/split.c): balanced by bytes, the head on the last rank,
 * ranks without layers when there are more ranks than layers, --pp-split counts checked. */
#include "test.h"
#include "dist/dist.h"
#include "rabbitllm.h"

static void test_bytes(void) {
    size_t lb[8] = {10, 10, 10, 10, 10, 10, 10, 10};
    int f[5];
    CHECK(rl_dist_split(lb, 8, 0, 2, NULL, f) == 0 && f[0] == 0 && f[1] == 4 && f[2] == 8, "even halves: %d %d %d", f[0], f[1], f[2]);
    CHECK(rl_dist_split(lb, 8, 20, 2, NULL, f) == 0 && f[1] == 5, "the head's bytes count for the last rank: %d", f[1]);
    CHECK(rl_dist_split(lb, 8, 0, 4, NULL, f) == 0 && f[1] == 2 && f[2] == 4 && f[3] == 6 && f[4] == 8, "quarters");
    size_t uneven[4] = {30, 10, 10, 10};
    CHECK(rl_dist_split(uneven, 4, 0, 2, NULL, f) == 0 && f[1] == 1, "a heavy first layer alone: %d", f[1]);
    CHECK(rl_dist_split(lb, 2, 0, 3, NULL, f) == 0 && f[0] == 0 && f[3] == 2 && f[1] <= f[2], "more ranks than layers: %d %d", f[1], f[2]);
    for (int r = 0; r < 3; r++) CHECK(f[r] <= f[r + 1], "monotone");
}

static void test_spec(void) {
    size_t lb[6] = {1, 1, 1, 1, 1, 1};
    int f[4];
    CHECK(rl_dist_split(lb, 6, 0, 3, "1,2,3", f) == 0 && f[1] == 1 && f[2] == 3 && f[3] == 6, "counts");
    CHECK(rl_dist_split(lb, 6, 0, 3, "0,0,6", f) == 0 && f[1] == 0 && f[2] == 0, "empty ranks allowed");
    CHECK(rl_dist_split(lb, 6, 0, 3, "1,2", f) == -1 && strstr(rl_last_error(), "--pp-split"), "too few: %s", rl_last_error());
    CHECK(rl_dist_split(lb, 6, 0, 3, "1,2,2", f) == -1 && strstr(rl_last_error(), "6 layers"), "wrong sum: %s", rl_last_error());
    CHECK(rl_dist_split(lb, 6, 0, 2, "1,2,3", f) == -1, "too many");
    CHECK(rl_dist_split(lb, 6, 0, 2, "a,b", f) == -1, "not numbers");
    CHECK(rl_dist_split(lb, 6, 0, 2, "-1,7", f) == -1, "negative");
    CHECK(rl_dist_split(lb, 6, 0, 0, NULL, f) == -1, "no ranks");
}

int main(void) {
    RUN(test_bytes);
    RUN(test_spec);
    TEST_END();
}
