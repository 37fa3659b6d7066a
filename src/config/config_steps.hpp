#pragma once
// The steps of loading a configuration, each in its own file: reading the sections
// (config_sections.cpp), and checking the values and the endpoint + model
// (config_validation.cpp). Private to src/config.

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd {

// Every section of `root` into `c`, refusing unknown sections and keys. `accepted`, when
// given, collects "section.key" for every key the parser reads (accepted_keys()).
void read_sections(const toml::table& root, Config& c, std::set<std::string>* accepted = nullptr);

// Value rules that span a key's type: allowed words, ranges, the detector's files.
void validate(const Config& c);

// Where the endpoint and the model came from, for a message that points at the right line.
struct FalChoiceSource {
  std::optional<std::int64_t> model_line;
  std::optional<std::int64_t> endpoint_line;
  bool endpoint_from_environment = false;
};

// The configured endpoint + model must exist before anything is uploaded or paid; the rate
// of that pair becomes the default estimate's.
void validate_model(Config& c, const FalChoiceSource& source);

}  // namespace lipsyncd
