/* Generates text through the public rabbitllm API, streaming it to stdout.
 *   cc generate.c $(pkg-config --cflags --libs rabbitllm) -o generate
 *   ./generate models/stories260K "Once upon a time" 64 */
#include <rabbitllm.h>
#include <stdio.h>
#include <stdlib.h>

static int print_piece(void *user, const char *piece, size_t len) {
    (void)user;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0;                                  /* nonzero would stop the generation */
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR PROMPT [MAX_TOKENS]\n", argv[0]);
        return 2;
    }
    rl_session *s = rl_session_open(argv[1], NULL);          /* model + tokenizer + template */
    if (!s) { fprintf(stderr, "error: %s\n", rl_last_error()); return 1; }

    rl_gen_params p = rl_gen_params_default();                /* greedy */
    p.max_tokens = argc > 3 ? atoi(argv[3]) : 64;
    p.on_text = print_piece;
    rl_gen_info info;
    int rc;
    if (rl_session_template(s)) {                             /* a chat model: one user turn */
        rl_chat_message msg = {"user", argv[2]};
        rc = rl_session_chat(s, &msg, 1, &p, NULL, &info);
    } else {                                                  /* a base model: continue the text */
        rc = rl_session_generate(s, argv[2], &p, NULL, &info);
    }
    if (rc) fprintf(stderr, "\nerror: %s\n", rl_last_error());
    else fprintf(stderr, "\n[%d prompt tokens, %d generated in %.3f s]\n", info.n_prompt, info.n_gen, info.prefill_s + info.decode_s);
    rl_session_close(s);
    return rc ? 1 : 0;
}
