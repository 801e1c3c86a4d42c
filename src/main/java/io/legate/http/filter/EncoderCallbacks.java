package io.legate.http.filter;

import io.legate.http.StreamInfo;

/** What an encoder filter may ask of its stream. */
public interface EncoderCallbacks {
  /** Resumes response iteration after {@link HttpFilter.Status#STOP_ITERATION}. */
  void continueEncoding();

  StreamInfo streamInfo();
}
