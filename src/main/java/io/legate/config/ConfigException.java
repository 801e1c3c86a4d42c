package io.legate.config;

/**
 * A configuration error: what is wrong and where. The message is the whole story for the user
 * ({@code <file>: <field path>: <reason>}), so the exception carries no stack trace.
 */
public final class ConfigException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an error whose message is {@code path: reason} (or just the reason when path is empty). */
  public ConfigException(String path, String reason) {
    super(path == null || path.isEmpty() ? reason : path + ": " + reason, null, false, false);
  }

  /** Creates an error with a complete message. */
  public ConfigException(String message) {
    super(message, null, false, false);
  }

  /** Returns a copy of this error with {@code prefix: } before its message (for example the file name). */
  public ConfigException prefixed(String prefix) {
    return new ConfigException(prefix + ": " + getMessage());
  }
}
