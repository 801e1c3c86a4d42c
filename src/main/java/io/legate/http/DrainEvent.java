package io.legate.http;

/**
 * Fired into every downstream connection's pipeline when the server drains (hot restart, SIGTERM):
 * an HTTP/1.1 connection answers its next response with {@code Connection: close} and closes, an
 * HTTP/2 connection sends GOAWAY and closes once its streams end.
 */
public final class DrainEvent {
  /** The event. */
  public static final DrainEvent INSTANCE = new DrainEvent();

  private DrainEvent() {}

  /** Fires the event into each connection's pipeline, on the connection's own event loop. */
  public static void fire(Iterable<? extends io.netty.channel.Channel> connections) {
    for (io.netty.channel.Channel ch : connections) {
      ch.eventLoop().execute(() -> ch.pipeline().fireUserEventTriggered(INSTANCE));
    }
  }
}
