/* The CLI's subcommands: each lives in its own cmd_*.c file and has this signature.
 * argv[0] is the subcommand name. Returns the process exit status. */
#ifndef RL_CLI_COMMANDS_H
#define RL_CLI_COMMANDS_H

int cmd_run(int argc, char **argv);            /* cmd_run.c: generate from ids or a prompt */
int cmd_info(int argc, char **argv);           /* cmd_info.c: model description + memory plan */
int cmd_synth(int argc, char **argv);          /* cmd_synth.c: write a random-weight checkpoint */
int cmd_bench(int argc, char **argv);          /* cmd_bench.c: streaming speed vs disk/memory */
int cmd_tokenize(int argc, char **argv);       /* cmd_tokenize.c: text -> ids */
int cmd_detokenize(int argc, char **argv);     /* cmd_tokenize.c: ids -> text */
int cmd_bench_tokenizer(int argc, char **argv);/* cmd_tokenize.c: tokenizer speed */
int cmd_template(int argc, char **argv);       /* cmd_template.c: render chat templates */
int cmd_chat(int argc, char **argv);           /* cmd_chat.c: interactive chat loop */
int cmd_serve(int argc, char **argv);          /* cmd_serve.c: OpenAI-compatible HTTP server */
int cmd_quantize(int argc, char **argv);       /* cmd_quant.c: write the quantized layer cache */
int cmd_download(int argc, char **argv);       /* cmd_download.c: fetch a model into the Hugging Face cache */

#endif
