package io.legate.http.filters.jwtauthn;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSVerifier;
import com.nimbusds.jose.crypto.ECDSAVerifier;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jose.crypto.RSASSAVerifier;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.OctetSequenceKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.SignedJWT;
import java.text.ParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The usable keys of a JWKS, each with its signature verifier built once (nimbus-jose-jwt's RSA,
 * EC and HMAC verifiers). Immutable and thread-safe.
 */
final class JwksKeys {
  private enum Family {
    RSA,
    EC,
    HMAC
  }

  private record Key(String kid, String alg, Family family, Curve curve, JWSVerifier verifier) {}

  private final List<Key> keys;

  private JwksKeys(List<Key> keys) {
    this.keys = List.copyOf(keys);
  }

  /**
   * Parses a JWKS document.
   *
   * @throws ParseException when it is not a JWKS, or has no usable key ("Jwks doesn't have any
   *     valid public key")
   */
  static JwksKeys parse(String json) throws ParseException {
    JWKSet set = JWKSet.parse(json);
    List<Key> out = new ArrayList<>();
    for (JWK jwk : set.getKeys()) {
      String alg = jwk.getAlgorithm() == null ? null : jwk.getAlgorithm().getName();
      try {
        if (jwk instanceof RSAKey rsa) {
          out.add(new Key(jwk.getKeyID(), alg, Family.RSA, null, new RSASSAVerifier(rsa)));
        } else if (jwk instanceof ECKey ec) {
          out.add(new Key(jwk.getKeyID(), alg, Family.EC, ec.getCurve(), new ECDSAVerifier(ec)));
        } else if (jwk instanceof OctetSequenceKey oct) {
          out.add(new Key(jwk.getKeyID(), alg, Family.HMAC, null, new MACVerifier(oct)));
        }
      } catch (JOSEException | RuntimeException e) {
        // An unusable key is skipped, as Envoy skips keys it cannot parse.
      }
    }
    if (out.isEmpty()) {
      throw new ParseException("Jwks doesn't have any valid public key", 0);
    }
    return new JwksKeys(out);
  }

  /**
   * Verifies a JWT's signature against the keys whose kid and alg fit it: {@link
   * JwtStatus#JWKS_KID_ALG_MISMATCH} when none fits, {@link JwtStatus#JWT_VERIFICATION_FAIL} when
   * none of those verifies.
   */
  JwtStatus verify(SignedJWT jwt) {
    JWSAlgorithm alg = jwt.getHeader().getAlgorithm();
    String kid = jwt.getHeader().getKeyID();
    Family family = familyOf(alg);
    if (family == null) {
      return JwtStatus.JWT_HEADER_NOT_IMPLEMENTED_ALG;
    }
    Set<Curve> curves = family == Family.EC ? Curve.forJWSAlgorithm(alg) : null;
    boolean matched = false;
    for (Key k : keys) {
      if (k.family != family) {
        continue;
      }
      if (kid != null && k.kid != null && !kid.equals(k.kid)) {
        continue;
      }
      if (k.alg != null && !k.alg.equals(alg.getName())) {
        continue;
      }
      if (curves != null && (k.curve == null || !curves.contains(k.curve))) {
        continue;
      }
      matched = true;
      try {
        if (jwt.verify(k.verifier)) {
          return JwtStatus.OK;
        }
      } catch (JOSEException | IllegalStateException e) {
        // tried and failed: go on with the next key
      }
    }
    return matched ? JwtStatus.JWT_VERIFICATION_FAIL : JwtStatus.JWKS_KID_ALG_MISMATCH;
  }

  private static Family familyOf(JWSAlgorithm alg) {
    if (JWSAlgorithm.Family.RSA.contains(alg)) {
      return Family.RSA;
    }
    if (JWSAlgorithm.Family.EC.contains(alg)) {
      return Family.EC;
    }
    if (JWSAlgorithm.Family.HMAC_SHA.contains(alg)) {
      return Family.HMAC;
    }
    return null;
  }

  int size() {
    return keys.size();
  }
}
