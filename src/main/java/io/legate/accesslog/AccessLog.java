package io.legate.accesslog;

import io.legate.http.StreamInfo;

/** Writes one entry per finished stream. Implementations must not block the calling worker. */
public interface AccessLog {
  void log(StreamInfo info);
}
