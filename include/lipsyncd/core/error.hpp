#pragma once
// Errors a user can act on: a stable reason code for scripts, a sentence for people, and a
// hint that says what to do about it.

#include <stdexcept>
#include <string>

namespace lipsyncd {

// Whether trying the same thing again later may succeed (network trouble, a full disk) or
// not (a corrupt file, a rejected key). The daemon defers transient failures and sends
// permanent ones to error/.
enum class Permanence { transient, permanent };

struct Failure {
  std::string reason_code;  // snake_case, stable: e.g. "no_face", "audio_silent"
  std::string message;      // one sentence a person can act on
  std::string hint;         // what to do about it; may be empty
  Permanence permanence = Permanence::permanent;
};

class Error : public std::runtime_error {
 public:
  explicit Error(Failure failure)
      : std::runtime_error(failure.message), failure_(std::move(failure)) {}
  Error(std::string reason_code, std::string message, std::string hint = {},
        Permanence permanence = Permanence::permanent)
      : Error(Failure{std::move(reason_code), std::move(message), std::move(hint), permanence}) {}

  const Failure& failure() const noexcept { return failure_; }
  const std::string& reason_code() const noexcept { return failure_.reason_code; }
  const std::string& hint() const noexcept { return failure_.hint; }
  bool is_transient() const noexcept { return failure_.permanence == Permanence::transient; }

 private:
  Failure failure_;
};

}  // namespace lipsyncd
