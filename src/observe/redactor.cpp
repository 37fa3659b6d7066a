#include "lipsyncd/observe/redactor.hpp"

#include <algorithm>

namespace lipsyncd::observe {
namespace {

// A part of a composite key shorter than this is too common a string to mask everywhere
// (it would garble ordinary text) and too short to be a secret on its own.
constexpr std::size_t kMinPartLength = 8;

}  // namespace

Redactor::Redactor(const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    secrets_.push_back(secret);
    std::size_t begin = 0;
    while (begin <= secret.size()) {
      const auto end = std::min(secret.find(':', begin), secret.size());
      const auto part = secret.substr(begin, end - begin);
      if (part.size() >= kMinPartLength && part != secret) secrets_.push_back(part);
      begin = end + 1;
    }
  }
  std::sort(secrets_.begin(), secrets_.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  });
  secrets_.erase(std::unique(secrets_.begin(), secrets_.end()), secrets_.end());
}

bool Redactor::contains_secret(std::string_view text) const noexcept {
  return std::any_of(secrets_.begin(), secrets_.end(), [text](const std::string& secret) {
    return text.find(secret) != std::string_view::npos;
  });
}

std::string Redactor::redact(std::string_view text) const {
  std::string result(text);
  for (const auto& secret : secrets_) {
    std::size_t at = 0;
    while ((at = result.find(secret, at)) != std::string::npos) {
      result.replace(at, secret.size(), kMask);
      at += kMask.size();
    }
  }
  return result;
}

}  // namespace lipsyncd::observe
