package city.whistle.client;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Whistle's report signature (libs/common/whistle_common/signing.py): hex HMAC-SHA256 with
 * the department's secret over {@code timestamp + "." + value}, where value is the exact
 * bytes sent as the Kafka record value and timestamp is Unix seconds as decimal digits.
 */
public final class Signing {
    public static final String SENDER_HEADER = "x-whistle-dept";
    public static final String TIMESTAMP_HEADER = "x-whistle-timestamp";
    public static final String SIGNATURE_HEADER = "x-whistle-signature";

    private Signing() {
    }

    /** Lower-case hex HMAC-SHA256(secret, timestamp + "." + body). */
    public static String sign(String secret, String timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update(timestamp.getBytes(StandardCharsets.UTF_8));
            mac.update((byte) '.');
            byte[] digest = mac.doFinal(body);
            StringBuilder hex = new StringBuilder(digest.length * 2);
            for (byte b : digest) {
                hex.append(Character.forDigit((b >> 4) & 0xF, 16)).append(Character.forDigit(b & 0xF, 16));
            }
            return hex.toString();
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 unavailable", e);
        }
    }

    /** The three headers authenticating {@code body} as sent by {@code dept} at {@code epochSeconds}. */
    public static Map<String, String> headers(String dept, String secret, byte[] body, long epochSeconds) {
        String timestamp = Long.toString(epochSeconds);
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put(SENDER_HEADER, dept);
        headers.put(TIMESTAMP_HEADER, timestamp);
        headers.put(SIGNATURE_HEADER, sign(secret, timestamp, body));
        return headers;
    }
}
