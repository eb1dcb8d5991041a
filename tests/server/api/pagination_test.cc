#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "tests/support/api_harness.h"

namespace posfleet {
namespace {

using testing::ApiHarness;

TEST(PaginationTest, StableWhileRowsAreInserted) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("acme");
  const v1::Merchant m = h.CreateMerchant(tenant.id(), "M1");
  const std::string op = h.CreateToken(v1::ROLE_OPERATOR, tenant.id());
  v1::BatchCreateTerminalsRequest batch;
  for (int i = 0; i < 300; ++i) {
    v1::TerminalSpec* s = batch.add_terminals();
    s->set_merchant_id(m.id());
    s->set_vendor("PAX");
    s->set_model("A920");
    s->set_serial("S" + std::to_string(i));
    (*s->mutable_labels())["region"] = i % 2 ? "north" : "south";
  }
  v1::BatchCreateTerminalsResponse created;
  ASSERT_TRUE(h.terminals->BatchCreateTerminals(ApiHarness::As(op).get(), batch, &created).ok());
  std::set<std::string> before;
  for (const auto& r : created.results()) {
    if (r.outcome() == v1::BatchCreateResult::OUTCOME_CREATED) before.insert(r.terminal_id());
  }
  ASSERT_EQ(before.size(), 150u + 150u);

  // A writer keeps provisioning terminals while a reader pages through the "north" ones.
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 2000; ++i) {
      h.CreateTerminal(op, m.id(), "W" + std::to_string(i),
                       {{"region", i % 2 ? "north" : "south"}});
      ++inserted;
    }
  });
  std::vector<std::string> seen;
  v1::ListTerminalsRequest req;
  req.set_page_size(7);
  req.set_label_selector("region=north");
  int pages = 0;
  do {
    v1::ListTerminalsResponse page;
    ASSERT_TRUE(h.terminals->ListTerminals(ApiHarness::As(op).get(), req, &page).ok());
    for (const auto& t : page.terminals()) {
      EXPECT_EQ(t.labels().at("region"), "north");
      seen.push_back(t.id());
    }
    req.set_page_token(page.next_page_token());
    ++pages;
  } while (!req.page_token().empty());
  stop = true;
  writer.join();
  EXPECT_GT(inserted.load(), 0);
  EXPECT_GT(pages, 20);
  // No duplicates, and every north terminal that existed before the listing began was seen.
  std::set<std::string> unique(seen.begin(), seen.end());
  EXPECT_EQ(unique.size(), seen.size());
  int north_before = 0;
  for (int i = 0; i < 300; ++i) {
    if (i % 2 == 1) {
      ++north_before;
      EXPECT_TRUE(unique.contains(created.results(i).terminal_id())) << i;
    }
  }
  EXPECT_EQ(north_before, 150);
}

TEST(PaginationTest, TokensAreBoundToTheirFilters) {
  ApiHarness h;
  const v1::Tenant tenant = h.CreateTenant("acme");
  const v1::Merchant m = h.CreateMerchant(tenant.id(), "M1");
  for (int i = 0; i < 5; ++i) h.CreateTerminal(h.admin, m.id(), "S" + std::to_string(i));
  v1::ListTerminalsRequest req;
  req.set_page_size(2);
  v1::ListTerminalsResponse page;
  ASSERT_TRUE(h.terminals->ListTerminals(ApiHarness::As(h.admin).get(), req, &page).ok());
  ASSERT_FALSE(page.next_page_token().empty());
  req.set_page_token(page.next_page_token());
  req.set_label_selector("region=north");
  EXPECT_EQ(h.terminals->ListTerminals(ApiHarness::As(h.admin).get(), req, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.clear_label_selector();
  req.set_page_token("garbage");
  EXPECT_EQ(h.terminals->ListTerminals(ApiHarness::As(h.admin).get(), req, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.clear_page_token();
  req.set_page_size(5000);
  EXPECT_EQ(h.terminals->ListTerminals(ApiHarness::As(h.admin).get(), req, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace posfleet
