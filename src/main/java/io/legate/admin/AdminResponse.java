package io.legate.admin;

import io.netty.handler.codec.http.HttpResponseStatus;
import java.util.Objects;

/**
 * A complete admin response.
 *
 * @param afterWrite run once the response is written (e.g. {@code /quitquitquit}), or null
 */
record AdminResponse(HttpResponseStatus status, String contentType, String body, Runnable afterWrite) {
  static final String TEXT = "text/plain; charset=UTF-8";
  static final String JSON = "application/json";
  static final String HTML = "text/html; charset=UTF-8";

  AdminResponse {
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(contentType, "contentType");
    Objects.requireNonNull(body, "body");
  }

  static AdminResponse text(HttpResponseStatus status, String body) {
    return new AdminResponse(status, TEXT, body, null);
  }

  static AdminResponse ok(String body) {
    return text(HttpResponseStatus.OK, body);
  }

  static AdminResponse json(String body) {
    return new AdminResponse(HttpResponseStatus.OK, JSON, body, null);
  }
}
