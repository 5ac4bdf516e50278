/* The system's libsqlite3, plus wrappers for what Swift cannot import (macros that are casts). */
#ifndef CLOACINA_CSQLITE_SHIM_H
#define CLOACINA_CSQLITE_SHIM_H

#include <sqlite3.h>

/* Binds text that SQLite must copy (SQLITE_TRANSIENT), since Swift buffers do not outlive the call. */
static inline int cloacina_sqlite3_bind_text(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_TRANSIENT);
}

/* Binds a blob that SQLite must copy. */
static inline int cloacina_sqlite3_bind_blob(sqlite3_stmt *statement, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(statement, index, bytes, length, SQLITE_TRANSIENT);
}

/* Sets the connection's lookaside allocator (sqlite3_db_config is variadic, which Swift cannot call). A host with
 * many tenants keeps many idle connections; the default lookaside costs about 150 KiB each. */
static inline int cloacina_sqlite3_lookaside(sqlite3 *db, int slot_size, int slots) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_LOOKASIDE, (void *)0, slot_size, slots);
}

#endif /* CLOACINA_CSQLITE_SHIM_H */
