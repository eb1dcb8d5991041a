#include "tools/posfleetctl/csv.h"

#include <gtest/gtest.h>

namespace posfleet::ctl {
namespace {

TEST(CsvTest, QuotesNewlinesAndLineNumbers) {
  auto r = ParseCsv("a,b\r\n\"x,1\",\"say \"\"hi\"\"\"\n\n\"multi\nline\",z\nlast,");
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[1].fields, (std::vector<std::string>{"x,1", "say \"hi\""}));
  EXPECT_EQ((*r)[1].line, 2);
  EXPECT_EQ((*r)[2].fields, (std::vector<std::string>{"multi\nline", "z"}));
  EXPECT_EQ((*r)[2].line, 4);
  EXPECT_EQ((*r)[3].fields, (std::vector<std::string>{"last", ""}));
  EXPECT_EQ((*r)[3].line, 6);
}

TEST(CsvTest, RejectsBrokenQuoting) {
  EXPECT_FALSE(ParseCsv("a,\"open\n").ok());
  EXPECT_FALSE(ParseCsv("a,\"x\"y\n").ok());
}

TEST(ImportFileTest, ReadsRowsAndReportsBadOnesByLine) {
  auto f = ParseImportFile(
      "serial,vendor,model,merchant_id,labels\n"
      "S1,PAX,A920,mer_a,region=north;pilot=yes\n"
      "S2,PAX,A920\n"
      "S3,PAX,A920,mer_a,broken\n"
      "S4,PAX,A80,mer_b,\n");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->rows.size(), 2u);
  EXPECT_EQ(f->rows[0].serial, "S1");
  EXPECT_EQ(f->rows[0].line, 2);
  EXPECT_EQ(f->rows[0].labels.size(), 2u);
  EXPECT_EQ(f->rows[1].serial, "S4");
  EXPECT_EQ(f->rows[1].line, 5);
  ASSERT_EQ(f->problems.size(), 2u);
  EXPECT_EQ(f->problems[0].line, 3);
  EXPECT_EQ(f->problems[1].line, 4);
}

TEST(ImportFileTest, HeaderErrorsFailTheFile) {
  EXPECT_FALSE(ParseImportFile("").ok());
  EXPECT_FALSE(ParseImportFile("vendor,model,serial\n").ok());  // no merchant_id
  EXPECT_FALSE(ParseImportFile("vendor,model,serial,merchant_id,colour\n").ok());
  EXPECT_FALSE(ParseImportFile("vendor,vendor,model,serial,merchant_id\n").ok());
}

}  // namespace
}  // namespace posfleet::ctl
