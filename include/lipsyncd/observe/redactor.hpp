#pragma once
// Masks secrets (the fal key) in any text before it is written anywhere. Given the configured
// credentials, it replaces the whole credential and each long ':'-separated part of it
// ("key_id:key_secret" keys), so a half of the key logged on its own is masked too.

#include <string>
#include <string_view>
#include <vector>

namespace lipsyncd::observe {

class Redactor {
 public:
  static constexpr std::string_view kMask = "[redacted]";

  Redactor() = default;
  explicit Redactor(const std::vector<std::string>& secrets);

  bool empty() const noexcept { return secrets_.empty(); }
  bool contains_secret(std::string_view text) const noexcept;
  std::string redact(std::string_view text) const;

 private:
  std::vector<std::string> secrets_;  // longest first, so a part never splits a whole key
};

}  // namespace lipsyncd::observe
