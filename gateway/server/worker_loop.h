/*
 * worker_loop: the body of a worker's thread (worker_loop.c says what it
 * runs and how it drains).
 */
#ifndef AG_WORKER_LOOP_H
#define AG_WORKER_LOOP_H

/* arg: its worker_t. Runs the loop until the server stops and drains. */
void *worker_main(void *arg);

#endif
