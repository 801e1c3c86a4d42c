package io.legate.tls;

import io.netty.buffer.ByteBuf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What the tls_inspector listener filter learns from the first bytes of a connection: whether it is
 * TLS and, if so, the SNI and the ALPN protocols of its ClientHello.
 *
 * @param transportProtocol {@code "tls"} or {@code "raw_buffer"}
 * @param serverName the SNI, or null
 * @param alpn the offered ALPN protocols, empty when none
 */
public record ClientHello(String transportProtocol, String serverName, List<String> alpn) {
  /** A connection that is not TLS (or not inspected). */
  public static final ClientHello RAW = new ClientHello("raw_buffer", null, List.of());
  /** Envoy's default {@code max_client_hello_size}. */
  static final int MAX_SIZE = 64 * 1024;

  /**
   * Parses the records at the reader index of {@code in} without consuming them. Returns null when
   * more bytes are needed, {@link #RAW} when the bytes are not a TLS ClientHello.
   */
  public static ClientHello peek(ByteBuf in) {
    int base = in.readerIndex();
    int avail = in.readableBytes();
    if (avail < 1) {
      return null;
    }
    if (in.getUnsignedByte(base) != 22) {
      return RAW;
    }
    // Reassemble the handshake message from consecutive handshake records.
    byte[] hs = new byte[0];
    int pos = base;
    int need = -1;
    while (true) {
      if (pos + 5 > base + avail) {
        return null;
      }
      if (in.getUnsignedByte(pos) != 22 || in.getUnsignedByte(pos + 1) != 3) {
        return RAW;
      }
      int len = in.getUnsignedShort(pos + 3);
      if (pos + 5 + len > base + avail) {
        return avail > MAX_SIZE ? RAW : null;
      }
      byte[] more = new byte[hs.length + len];
      System.arraycopy(hs, 0, more, 0, hs.length);
      in.getBytes(pos + 5, more, hs.length, len);
      hs = more;
      pos += 5 + len;
      if (need < 0 && hs.length >= 4) {
        if (hs[0] != 1) {
          return RAW; // not a ClientHello
        }
        need = 4 + (((hs[1] & 0xff) << 16) | ((hs[2] & 0xff) << 8) | (hs[3] & 0xff));
        if (need > MAX_SIZE) {
          return RAW;
        }
      }
      if (need >= 0 && hs.length >= need) {
        break;
      }
    }
    try {
      return parse(hs, need);
    } catch (IndexOutOfBoundsException e) {
      return new ClientHello("tls", null, List.of());
    }
  }

  private static ClientHello parse(byte[] b, int end) {
    int p = 4 + 2 + 32; // header, client_version, random
    p += 1 + (b[p] & 0xff); // session id
    p += 2 + u16(b, p); // cipher suites
    p += 1 + (b[p] & 0xff); // compression methods
    String sni = null;
    List<String> alpn = new ArrayList<>();
    if (p + 2 > end) {
      return new ClientHello("tls", null, List.of());
    }
    int extEnd = Math.min(end, p + 2 + u16(b, p));
    p += 2;
    while (p + 4 <= extEnd) {
      int type = u16(b, p);
      int len = u16(b, p + 2);
      int d = p + 4;
      if (type == 0 && len >= 5) {
        // server_name_list: length, then (type, length, name)*; the first host_name wins.
        int q = d + 2;
        int listEnd = d + 2 + u16(b, d);
        while (q + 3 <= listEnd) {
          int nameLen = u16(b, q + 1);
          if (b[q] == 0) {
            sni = new String(b, q + 3, nameLen, StandardCharsets.US_ASCII);
            break;
          }
          q += 3 + nameLen;
        }
      } else if (type == 16 && len >= 2) {
        int q = d + 2;
        int listEnd = d + 2 + u16(b, d);
        while (q < listEnd) {
          int n = b[q] & 0xff;
          alpn.add(new String(b, q + 1, n, StandardCharsets.US_ASCII));
          q += 1 + n;
        }
      }
      p = d + len;
    }
    return new ClientHello("tls", sni, List.copyOf(alpn));
  }

  private static int u16(byte[] b, int p) {
    return ((b[p] & 0xff) << 8) | (b[p + 1] & 0xff);
  }
}
