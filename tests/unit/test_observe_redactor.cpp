// The redactor masks a configured key wherever it appears, including either half of a
// "key_id:key_secret" credential, and leaves ordinary text alone.

#include <gtest/gtest.h>

#include "lipsyncd/observe/redactor.hpp"

namespace lipsyncd::observe {
namespace {

constexpr const char* kKeyId = "3f2a9c1e-1111-2222-3333-444455556666";
constexpr const char* kKeySecret = "0123456789abcdef0123456789abcdef";

std::string full_key() {
  return std::string(kKeyId) + ":" + kKeySecret;
}

TEST(ObserveRedactor, MasksTheWholeKeyEverywhereItAppears) {
  const Redactor redactor({full_key()});
  const auto text = "Authorization: Key " + full_key() + " and again " + full_key();
  const auto redacted = redactor.redact(text);
  EXPECT_EQ(redacted, "Authorization: Key [redacted] and again [redacted]");
  EXPECT_TRUE(redactor.contains_secret(text));
  EXPECT_FALSE(redactor.contains_secret(redacted));
}

TEST(ObserveRedactor, MasksEitherHalfOfACompositeKeyOnItsOwn) {
  const Redactor redactor({full_key()});
  EXPECT_EQ(redactor.redact(std::string("id=") + kKeyId), "id=[redacted]");
  EXPECT_EQ(redactor.redact(std::string("secret ") + kKeySecret + "."), "secret [redacted].");
}

TEST(ObserveRedactor, LeavesTextWithoutSecretsUnchanged) {
  const Redactor redactor({full_key()});
  const std::string text = "job 42 uploaded 1.5 MB in 0.3 s: key id 3f2a...";
  EXPECT_EQ(redactor.redact(text), text);
  EXPECT_FALSE(redactor.contains_secret(text));
}

TEST(ObserveRedactor, ShortFragmentsOfAKeyAreNotMaskedInOrdinaryText) {
  // "ab:cd" has parts too short to be secrets on their own; only the whole key is masked.
  const Redactor redactor({"ab:cd"});
  EXPECT_EQ(redactor.redact("cab ab:cd cd"), "cab [redacted] cd");
}

TEST(ObserveRedactor, NoSecretsMeansNoChanges) {
  const Redactor redactor({"", ""});
  EXPECT_TRUE(redactor.empty());
  EXPECT_EQ(redactor.redact("anything"), "anything");
}

}  // namespace
}  // namespace lipsyncd::observe
