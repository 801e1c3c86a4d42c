package io.legate.http.filters.jwtauthn;

import io.netty.util.AsciiString;
import java.util.List;
import java.util.Set;

/**
 * One {@code providers} entry, parsed: who issues the tokens, for which audiences, where they are
 * found, how they are checked and what is forwarded on success. Immutable.
 *
 * @param issuer the expected {@code iss}, "" for any
 * @param audiences the allowed audiences, sanitised (no scheme, no trailing slash); empty for any
 * @param forwardPayloadHeader where to put the payload (base64url) on success, or null
 * @param claimToHeaders claims copied to request headers on success
 * @param clearRouteCache whether the route is matched again after a success changed headers
 * @param payloadInMetadata the key under which a verified payload goes into the stream's dynamic
 *     metadata (namespace {@code envoy.filters.http.jwt_authn}), or null
 */
record Provider(
    String name,
    String issuer,
    Set<String> audiences,
    boolean requireExpiration,
    long clockSkewSeconds,
    boolean forward,
    AsciiString forwardPayloadHeader,
    boolean padForwardPayloadHeader,
    List<Extractor.Location> locations,
    List<ClaimToHeader> claimToHeaders,
    boolean clearRouteCache,
    JwksSource jwks,
    String payloadInMetadata) {

  /** A claim (dotted path into nested objects) copied to a header. */
  record ClaimToHeader(AsciiString header, List<String> claimPath) {}

  /**
   * Returns an audience without its {@code http://} or {@code https://} scheme and trailing slash,
   * as Envoy compares them.
   */
  static String sanitizeAudience(String aud) {
    if (aud.isEmpty()) {
      return aud;
    }
    int beg = aud.startsWith("http://") ? 7 : aud.startsWith("https://") ? 8 : 0;
    int end = aud.length();
    if (end > beg && aud.charAt(end - 1) == '/') {
      end--;
    }
    return aud.substring(beg, end);
  }

  /** Returns whether any of the JWT's audiences is allowed (all are when none is configured). */
  static boolean audiencesAllowed(Set<String> allowed, List<String> jwtAudiences) {
    if (allowed.isEmpty()) {
      return true;
    }
    if (jwtAudiences != null) {
      for (String a : jwtAudiences) {
        if (allowed.contains(sanitizeAudience(a))) {
          return true;
        }
      }
    }
    return false;
  }
}
