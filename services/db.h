/*
 * db: the database behind the platform, as a readiness dependency of the
 * reference services. Given a libpq connection string (--db-dsn or
 * AURIGRAPH_DB_DSN), a thread of its own keeps one connection and runs
 * `SELECT 1` on it every second, so that grpc.health.v1 for "" and for
 * TransactionService answers NOT_SERVING while the database is out of reach
 * (the gateway's readiness follows). Without one, the services are ready
 * as before. No request waits for the database: the thread publishes one
 * flag.
 */
#ifndef AG_SVC_DB_H
#define AG_SVC_DB_H

/* dsn NULL or empty: no database. Returns 0, or -1 when the thread cannot start. */
int db_start(const char *dsn);
/* 1 with no database, or when the last check succeeded. */
int db_ready(void);
void db_stop(void);

#endif
