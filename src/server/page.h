/* The embedded chat page of `serve` (GET /). */
#ifndef RL_SERVER_PAGE_H
#define RL_SERVER_PAGE_H
extern const char rl_server_page_html[];
#endif
