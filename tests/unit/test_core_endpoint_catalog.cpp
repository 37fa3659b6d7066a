#include <gtest/gtest.h>

#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/error.hpp"

namespace lipsyncd {
namespace {

std::string refusal(std::string_view endpoint, std::string_view model,
                    std::string_view expected_reason = "unknown_model") {
  try {
    resolve_model(endpoint, model);
  } catch (const Error& e) {
    EXPECT_EQ(e.reason_code(), expected_reason);
    return e.what();
  }
  ADD_FAILURE() << endpoint << " accepted model \"" << model << "\"";
  return {};
}

TEST(EndpointCatalog, EveryEndpointWithItsModelsDefaultFirstAndPrice) {
  const auto* v1 = find_endpoint("fal-ai/sync-lipsync");
  ASSERT_NE(v1, nullptr);
  ASSERT_EQ(v1->models.size(), 3u);
  EXPECT_EQ(v1->models[0].name, "lipsync-1.9.0-beta");
  EXPECT_EQ(v1->models[1].name, "lipsync-1.8.0");
  EXPECT_EQ(v1->models[2].name, "lipsync-1.7.1");
  for (const auto& model : v1->models) EXPECT_DOUBLE_EQ(model.usd_per_minute, 0.70);

  const auto* v2 = find_endpoint("fal-ai/sync-lipsync/v2");
  ASSERT_NE(v2, nullptr);
  ASSERT_EQ(v2->models.size(), 2u);
  EXPECT_EQ(v2->models[0].name, "lipsync-2");
  EXPECT_DOUBLE_EQ(v2->models[0].usd_per_minute, 3.00);
  EXPECT_EQ(v2->models[1].name, "lipsync-2-pro");
  EXPECT_DOUBLE_EQ(v2->models[1].usd_per_minute, 5.00);

  const auto* v3 = find_endpoint("fal-ai/sync-lipsync/v3");
  ASSERT_NE(v3, nullptr);
  EXPECT_FALSE(v3->has_model_field());
  EXPECT_DOUBLE_EQ(v3->usd_per_minute, 8.00);

  EXPECT_EQ(find_endpoint("fal-ai/sync-lipsync/v4"), nullptr);
  EXPECT_EQ(endpoint_catalog().front().id, "fal-ai/sync-lipsync");
}

TEST(EndpointCatalog, NoModelMeansTheEndpointsDefaultAndItsPrice) {
  const auto v1 = resolve_model("fal-ai/sync-lipsync", "");
  EXPECT_EQ(v1.model, "lipsync-1.9.0-beta");
  EXPECT_DOUBLE_EQ(v1.usd_per_minute, 0.70);
  const auto v2 = resolve_model("fal-ai/sync-lipsync/v2", "");
  EXPECT_EQ(v2.model, "lipsync-2");
  EXPECT_DOUBLE_EQ(v2.usd_per_minute, 3.00);
  const auto pro = resolve_model("fal-ai/sync-lipsync/v2", "lipsync-2-pro");
  EXPECT_EQ(pro.model, "lipsync-2-pro");
  EXPECT_DOUBLE_EQ(pro.usd_per_minute, 5.00);
  const auto v3 = resolve_model("fal-ai/sync-lipsync/v3", "");
  EXPECT_EQ(v3.model, "");  // the field is left out
  EXPECT_DOUBLE_EQ(v3.usd_per_minute, 8.00);
  EXPECT_FALSE(v3.price_overridden);
}

TEST(EndpointCatalog, AModelOfAnotherEndpointIsRefusedWithTheAllowedValues) {
  const auto v1_on_v2 = refusal("fal-ai/sync-lipsync/v2", "lipsync-1.9.0-beta");
  EXPECT_NE(v1_on_v2.find("lipsync-1.9.0-beta"), std::string::npos) << v1_on_v2;
  EXPECT_NE(v1_on_v2.find("lipsync-2, lipsync-2-pro"), std::string::npos) << v1_on_v2;
  const auto v2_on_v1 = refusal("fal-ai/sync-lipsync", "lipsync-2");
  EXPECT_NE(v2_on_v1.find("lipsync-1.9.0-beta, lipsync-1.8.0, lipsync-1.7.1"), std::string::npos);
  const auto any_on_v3 = refusal("fal-ai/sync-lipsync/v3", "lipsync-2");
  EXPECT_NE(any_on_v3.find("no model field"), std::string::npos) << any_on_v3;
  refusal("fal-ai/sync-lipsync/v2", "lipsync-2.0");
  refusal("fal-ai/other", "", "unknown_endpoint");
}

TEST(EndpointCatalog, PriceOverridesPerModelBeatPerEndpoint) {
  const PriceOverrides overrides = {{"fal-ai/sync-lipsync/v2", "", 3.50},
                                    {"fal-ai/sync-lipsync/v2", "lipsync-2-pro", 6.00},
                                    {"fal-ai/sync-lipsync/v3", "", 9.00}};
  const auto v2 = resolve_model("fal-ai/sync-lipsync/v2", "lipsync-2", overrides);
  EXPECT_DOUBLE_EQ(v2.usd_per_minute, 3.50);
  EXPECT_TRUE(v2.price_overridden);
  EXPECT_DOUBLE_EQ(
      resolve_model("fal-ai/sync-lipsync/v2", "lipsync-2-pro", overrides).usd_per_minute, 6.00);
  EXPECT_DOUBLE_EQ(resolve_model("fal-ai/sync-lipsync/v3", "", overrides).usd_per_minute, 9.00);
  const auto v1 = resolve_model("fal-ai/sync-lipsync", "lipsync-1.8.0", overrides);
  EXPECT_DOUBLE_EQ(v1.usd_per_minute, 0.70);
  EXPECT_FALSE(v1.price_overridden);
}

TEST(EndpointCatalog, EstimateIsOutputMinutesTimesRate) {
  EXPECT_DOUBLE_EQ(estimate_usd(90, 3.00), 4.50);
  EXPECT_DOUBLE_EQ(estimate_usd(30, 0.70), 0.35);
  EXPECT_DOUBLE_EQ(estimate_usd(0, 8.00), 0.0);
}

TEST(EndpointCatalog, EveryEndpointTakesTenMinutesOfVideoPerRequest) {
  // sync-lipsync-model.md "Limitations": about 10 minutes of video per request.
  for (const auto& endpoint : endpoint_catalog()) {
    EXPECT_DOUBLE_EQ(endpoint.max_video_s, 600) << endpoint.id;
  }
}

}  // namespace
}  // namespace lipsyncd
