package io.legate.http.filters.jwtauthn;

/** The outcomes of verifying a JWT, with Envoy's texts (its {@code JwtVerify::getStatusString}). */
enum JwtStatus {
  OK("OK"),
  JWT_MISSED("Jwt is missing"),
  JWT_NOT_YET_VALID("Jwt not yet valid"),
  JWT_EXPIRED("Jwt is expired"),
  JWT_BAD_FORMAT("Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
  JWT_HEADER_BAD_BASE64("Jwt header is an invalid Base64url encoded"),
  JWT_HEADER_BAD_JSON("Jwt header is an invalid JSON"),
  JWT_HEADER_BAD_ALG("Jwt header [alg] field is required and must be a string"),
  JWT_HEADER_NOT_IMPLEMENTED_ALG("Jwt header [alg] is not supported"),
  JWT_PAYLOAD_BAD_BASE64("Jwt payload is an invalid Base64url encoded"),
  JWT_PAYLOAD_BAD_JSON("Jwt payload is an invalid JSON"),
  JWT_SIGNATURE_BAD_BASE64("Jwt signature is an invalid Base64url encoded"),
  JWT_UNKNOWN_ISSUER("Jwt issuer is not configured"),
  JWT_AUDIENCE_NOT_ALLOWED("Audiences in Jwt are not allowed"),
  JWT_VERIFICATION_FAIL("Jwt verification fails"),
  JWKS_KID_ALG_MISMATCH("Jwks doesn't have key to match kid or alg from Jwt"),
  JWKS_FETCH_FAIL("Jwks remote fetch is failed");

  private final String text;
  private final String details;

  JwtStatus(String text) {
    this.text = text;
    this.details = "jwt_authn_access_denied{" + text.replace(' ', '_') + "}";
  }

  /** Returns Envoy's text for this status (the local reply's body). */
  String text() {
    return text;
  }

  /** Returns the response code details, {@code jwt_authn_access_denied{Jwt_is_missing}}. */
  String details() {
    return details;
  }
}
