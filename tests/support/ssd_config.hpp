#pragma once
// A configuration that selects the SSD face detector the way a user does: [face] detector and
// [face] ssd_model, the model found in LIPSYNCD_TEST_MODELS (see test_media.hpp).

#include <string>

#include "lipsyncd/config/config.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {

// The TOML lines that select the SSD.
inline std::string ssd_face_section() {
  return "[face]\ndetector = \"ssd\"\nssd_model = \"" + ssd_model().string() + "\"\n";
}

inline Config ssd_config() {
  return parse_config(ssd_face_section(), models_dir(), {});
}

}  // namespace lipsyncd::test
