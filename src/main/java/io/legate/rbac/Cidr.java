package io.legate.rbac;

import io.envoyproxy.envoy.config.core.v3.CidrRange;
import io.legate.config.ConfigException;
import java.net.InetAddress;
import java.net.UnknownHostException;

/** An IP prefix from Envoy's CidrRange, matched without allocating. */
public record Cidr(byte[] prefix, int bits) {
  /** Parses a CidrRange; the address must be an IP literal. */
  public static Cidr build(CidrRange r, String path) {
    String a = r.getAddressPrefix();
    if (a.isEmpty() || !a.matches("[0-9a-fA-F:.]+")) {
      throw new ConfigException(path + ".address_prefix", "malformed IP address: " + a);
    }
    byte[] b;
    try {
      b = InetAddress.getByName(a).getAddress();
    } catch (UnknownHostException e) {
      throw new ConfigException(path + ".address_prefix", "malformed IP address: " + a);
    }
    int bits = r.hasPrefixLen() ? r.getPrefixLen().getValue() : b.length * 8;
    if (bits > b.length * 8) {
      throw new ConfigException(path + ".prefix_len", "prefix length " + bits + " is longer than the address");
    }
    return new Cidr(b, bits);
  }

  /** Returns whether the address is in this range (an IPv4 range never matches IPv6 and back). */
  public boolean matches(InetAddress address) {
    byte[] b = address.getAddress();
    if (b.length != prefix.length) {
      return false;
    }
    int full = bits / 8;
    for (int i = 0; i < full; i++) {
      if (b[i] != prefix[i]) {
        return false;
      }
    }
    int rem = bits % 8;
    if (rem == 0) {
      return true;
    }
    int mask = (0xff << (8 - rem)) & 0xff;
    return (b[full] & mask) == (prefix[full] & mask);
  }
}
