package io.legate.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * A loopback port where every connection is refused, for clusters whose host must be down.
 *
 * <p>The port is held by a socket that is bound but never listens, for as long as this object is
 * open. A port taken from a server socket that was then closed is free again: any listener bound to
 * port 0 meanwhile (Legate's own, another test's upstream) can be handed it, and the "dead" host
 * answers.
 */
public final class RefusedPort implements AutoCloseable {
  private final Socket holder = new Socket();
  private final int port;

  public RefusedPort() {
    try {
      holder.bind(new InetSocketAddress("127.0.0.1", 0));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot bind a loopback port", e);
    }
    port = holder.getLocalPort();
  }

  public int port() {
    return port;
  }

  @Override
  public void close() {
    try {
      holder.close();
    } catch (IOException ignored) {
      // nothing was ever sent on it
    }
  }
}
