package io.legate.listener;

import java.net.InetSocketAddress;

/**
 * Where listeners get already-listening sockets from instead of binding anew: the previous process
 * of a hot restart hands its sockets over, so no connection waiting in the accept queue is lost.
 */
public interface ListenSockets {
  /** No inherited sockets: every listener binds. */
  ListenSockets NONE = (name, address) -> -1;

  /**
   * Returns the file descriptor of a listening socket for the listener {@code name} on {@code
   * address}, or -1 to bind a new one.
   */
  int inherited(String name, InetSocketAddress address);
}
