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

#endif /* CLOACINA_CSQLITE_SHIM_H */
