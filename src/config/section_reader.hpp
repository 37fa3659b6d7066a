#pragma once
// Reading one [section] of the configuration file: typed keys, "must not be negative", sync
// modes by name, and a refusal of any key the section does not know. Private to src/config.

#include <toml++/toml.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <type_traits>

#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"

namespace lipsyncd {

[[noreturn]] inline void bad_config(const std::string& message) {
  throw Error("bad_config", message, "fix the configuration file; see config/lipsyncd.toml");
}

// Reads the keys of one [section], remembering which it saw so leftovers can be reported.
class SectionReader {
 public:
  // `accepted`, when given, collects "section.key" for every key this reader looks for.
  SectionReader(const toml::table& root, std::string name,
                std::set<std::string>* accepted = nullptr)
      : name_(std::move(name)), accepted_(accepted) {
    if (const toml::node* node = root.get(name_)) {
      table_ = node->as_table();
      if (table_ == nullptr) bad_config("[" + name_ + "] must be a table");
    }
  }

  template <typename T>
  void read(const std::string& key, T& target) {
    const toml::node* node = find(key);
    if (node == nullptr) return;
    if constexpr (std::is_same_v<T, bool>) {
      target = expect<bool>(*node, key, "true or false");
    } else if constexpr (std::is_integral_v<T>) {
      const auto value = expect<std::int64_t>(*node, key, "a whole number");
      if (value < 0) bad_config(where(key) + " must not be negative");
      target = static_cast<T>(value);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (const auto integer = node->value_exact<std::int64_t>()) {
        target = static_cast<T>(*integer);
      } else {
        target = expect<double>(*node, key, "a number");
      }
      if (target < 0 && key.find("dbfs") == std::string::npos) {
        bad_config(where(key) + " must not be negative");
      }
    } else if constexpr (std::is_same_v<T, std::string>) {
      target = expect<std::string>(*node, key, "a string");
    } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
      target = expect<std::string>(*node, key, "a string (a path)");
    }
  }

  void read_sync_mode(const std::string& key, SyncMode& target) {
    std::string name(to_string(target));
    read(key, name);
    target = sync_mode_named(key, name);
  }

  void read_optional_sync_mode(const std::string& key, std::optional<SyncMode>& target) {
    std::string name;
    read(key, name);
    if (!name.empty()) target = sync_mode_named(key, name);
  }

  void reject_unknown_keys() const {
    if (table_ == nullptr) return;
    for (const auto& [key, value] : *table_) {
      if (!seen_.contains(std::string(key.str()))) {
        bad_config("unknown key " + where(std::string(key.str())));
      }
    }
  }

 private:
  const toml::node* find(const std::string& key) {
    seen_.insert(key);
    if (accepted_ != nullptr) accepted_->insert(name_ + "." + key);
    return table_ == nullptr ? nullptr : table_->get(key);
  }

  template <typename T>
  T expect(const toml::node& node, const std::string& key, const char* what) const {
    const auto value = node.value_exact<T>();
    if (!value) bad_config(where(key) + " must be " + what);
    return *value;
  }

  SyncMode sync_mode_named(const std::string& key, const std::string& name) const {
    const auto mode = parse_sync_mode(name);
    if (!mode) {
      bad_config(where(key) + " = \"" + name +
                 "\" is not a sync mode (cut_off, loop, bounce, silence, remap)");
    }
    return *mode;
  }

  std::string where(const std::string& key) const { return "[" + name_ + "] " + key; }

  std::string name_;
  const toml::table* table_ = nullptr;
  std::set<std::string> seen_;
  std::set<std::string>* accepted_ = nullptr;
};

}  // namespace lipsyncd
