package io.legate.xds;

import com.google.protobuf.Any;
import java.util.List;

/**
 * Receives state-of-the-world updates of one resource type. Called on the xDS config thread, never
 * on an event loop.
 */
@FunctionalInterface
public interface Watcher {
  /**
   * Applies {@code resources} (every resource of the type for LDS/CDS; the named ones for RDS/EDS)
   * whole, or throws and changes nothing.
   *
   * @throws io.legate.config.ConfigException whose message becomes the NACK's {@code error_detail}
   */
  void onConfigUpdate(List<Any> resources, String versionInfo);
}
