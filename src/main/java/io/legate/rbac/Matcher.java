package io.legate.rbac;

import io.legate.router.HeaderMatch;
import io.netty.handler.codec.http2.Http2Headers;
import java.util.List;

/**
 * One compiled permission or principal. Implementations are immutable and thread-safe; {@link
 * #matches} runs on the request path and does not allocate beyond what its inputs require.
 */
@FunctionalInterface
public interface Matcher {
  /** Returns whether the input matches. */
  boolean matches(RbacInput in);

  /** Matches everything ({@code any: true}). */
  Matcher ANY = in -> true;

  /** {@code and_rules} / {@code and_ids}: every matcher matches. */
  record And(List<Matcher> all) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      for (Matcher m : all) {
        if (!m.matches(in)) {
          return false;
        }
      }
      return true;
    }
  }

  /** {@code or_rules} / {@code or_ids} (and a policy's permission or principal lists): any matches. */
  record Or(List<Matcher> any) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      for (Matcher m : any) {
        if (m.matches(in)) {
          return true;
        }
      }
      return false;
    }
  }

  /** {@code not_rule} / {@code not_id}. */
  record Not(Matcher inner) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      return !inner.matches(in);
    }
  }

  /** {@code header}: a request header (or pseudo-header); never matches outside HTTP. */
  record Header(HeaderMatch header) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      Http2Headers h = in.headers();
      return h != null && header.matches(h);
    }
  }

  /** {@code url_path}: the {@code :path} without query and fragment. */
  record UrlPath(StringMatch path) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      Http2Headers h = in.headers();
      CharSequence p = h == null ? null : h.path();
      if (p == null) {
        return false;
      }
      int end = p.length();
      for (int i = 0; i < end; i++) {
        char c = p.charAt(i);
        if (c == '?' || c == '#') {
          end = i;
          break;
        }
      }
      return path.matches(end == p.length() ? p : p.subSequence(0, end));
    }
  }

  /** Which address an IP matcher reads. */
  enum Address {
    /** The local address of the connection ({@code destination_ip}). */
    DESTINATION,
    /** The direct peer ({@code source_ip}, {@code direct_remote_ip}). */
    DIRECT_REMOTE,
    /** The client as the connection manager sees it ({@code remote_ip}). */
    REMOTE
  }

  /** {@code destination_ip}, {@code source_ip}, {@code direct_remote_ip}, {@code remote_ip}. */
  record Ip(Address which, Cidr range) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      var a = switch (which) {
        case DESTINATION -> in.localAddress();
        case DIRECT_REMOTE -> in.directRemoteAddress();
        case REMOTE -> in.remoteAddress();
      };
      return a != null && a.getAddress() != null && range.matches(a.getAddress());
    }
  }

  /** {@code destination_port} (start == end - 1) and {@code destination_port_range} ([start, end)). */
  record DestinationPort(int start, int end) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      int p = in.localAddress().getPort();
      return p >= start && p < end;
    }
  }

  /** {@code requested_server_name}: the SNI of a TLS connection ("" when none). */
  record ServerName(StringMatch name) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      return name.matches(in.peer().serverName());
    }
  }

  /**
   * {@code authenticated}: a TLS connection; with a {@code principal_name}, its peer certificate's
   * URI SANs, then DNS SANs, then subject, as Envoy.
   */
  record Authenticated(StringMatch principal) implements Matcher {
    @Override
    public boolean matches(RbacInput in) {
      PeerIdentity p = in.peer();
      if (!p.tls()) {
        return false;
      }
      if (principal == null) {
        return true;
      }
      for (String u : p.uriSans()) {
        if (principal.matches(u)) {
          return true;
        }
      }
      for (String d : p.dnsSans()) {
        if (principal.matches(d)) {
          return true;
        }
      }
      return principal.matches(p.subject());
    }
  }
}
