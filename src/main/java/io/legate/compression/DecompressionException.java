package io.legate.compression;

/** The compressed input is corrupt or inflates beyond the configured limit. */
public final class DecompressionException extends Exception {
  public DecompressionException(String message) {
    super(message, null, false, false);
  }
}
