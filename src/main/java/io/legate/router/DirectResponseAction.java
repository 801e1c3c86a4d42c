package io.legate.router;

/** A route that answers with a fixed status and optional body. */
public final class DirectResponseAction implements RouteAction {
  private final int status;
  private final byte[] body;

  DirectResponseAction(int status, byte[] body) {
    this.status = status;
    this.body = body;
  }

  /** Returns the HTTP status (200-599). */
  public int status() {
    return status;
  }

  /** Returns a copy of the body, or null if none was configured. */
  public byte[] body() {
    return body == null ? null : body.clone();
  }
}
