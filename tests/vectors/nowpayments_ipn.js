// Test vectors for the NOWPayments IPN signature, made by JavaScript itself (no npm packages).
//
//   node tests/vectors/nowpayments_ipn.js  ->  JSON array of {body, secret, signature, sorted}
//   node tests/vectors/nowpayments_ipn.js --canonical < bodies.json  ->  sorted form of each
//
// `sortObject` is the function NOWPayments publishes for checking `x-nowpayments-sig`; the
// signature is HMAC-SHA512 (hex) of JSON.stringify(sortObject(JSON.parse(body))). The bodies are
// raw JSON texts (keys in any order, numbers written in several ways) so the Python verifier is
// checked on exactly the bytes a sender could send.
"use strict";
const crypto = require("crypto");

function sortObject(obj) {
  return Object.keys(obj).sort().reduce((result, key) => {
    result[key] = obj[key] && typeof obj[key] === "object" ? sortObject(obj[key]) : obj[key];
    return result;
  }, {});
}

const secret = "ipn-secret-ünïcode-🔑";

const bodies = [
  // a NOWPayments IPN as documented, keys in NOWPayments' own (unsorted) order
  '{"payment_id":5077125051,"payment_status":"finished","pay_address":"0xd1cDE08A07cD25adEbEd35c3867a59228C09B606","price_amount":25.5,"price_currency":"eur","pay_amount":0.00029,"actually_paid":0.00029,"pay_currency":"sol","order_id":"ord-1","order_description":"Café crème for 東京 😀","purchase_id":"5837122679","created_at":"2026-12-02T20:00:00.000Z","updated_at":"2026-12-02T20:05:00.000Z","outcome_amount":1e-7,"outcome_currency":"usdttrc20"}',
  // numbers in every spelling: exponents, trailing zeros, integers, huge and tiny, negative zero
  '{"z":100,"y":100.0,"x":1E2,"w":25.50,"v":1e-7,"u":0.0000001,"t":0.000001,"s":1e21,"r":123456789012345678901,"q":1e20,"p":-0,"o":-0.0,"n":0.1,"m":0.30000000000000004,"l":9007199254740993,"k":1.7976931348623157e308,"j":5e-324,"i":1e400,"h":-25.5,"g":2.5e-5,"f":12345.6789e3,"e":0.00029,"d":1.0e+1,"c":0,"b":-1e-7,"a":123e-20}',
  // nested objects and arrays, keys in another order at every level
  '{"payment_id":"42","fee":{"currency":"sol","depositFee":0.0001,"amounts":[3,{"b":2,"a":1},"x"],"serviceFee":0},"actually_paid":0,"payment_status":"partially_paid","empty":{},"list":[],"flags":[true,false,null]}',
  // strings: escapes JSON.stringify keeps, non-ASCII it writes as is, lone surrogates
  '{"text":"quote \\" backslash \\\\ slash \\/ tab \\t nl \\n cr \\r bs \\b ff \\f bell \\u0007 unit sep \\u001f del \\u007f","uni":"\\u00e9\\u6771 raw é 東 😀 \\ud83d\\ude00","seps":"\\u2028\\u2029","lone":"\\ud800 and \\udfff","nul":"\\u0000"}',
  // keys: integer-like (JavaScript lists them first, numerically), UTF-16 order, duplicates
  '{"b":1,"10":2,"2":3,"a":4,"01":5,"-1":6,"4294967294":7,"4294967295":8,"é":9,"😀":10,"ｚ":11,"Z":12,"":13,"b":14}',
  // the smallest IPN
  '{"payment_id":1,"payment_status":"waiting"}',
  // whitespace and a top-level key order that differs from the sorted one
  ' {\n  "updated_at" : "2026-12-02T20:05:00.000Z",\n  "payment_status" : "confirming" ,\n  "payment_id" : 7 } ',
];

if (process.argv[2] === "--canonical") {
  // Oracle mode: stdin is a JSON array of body texts; stdout the sorted serialization of each
  // (null where JSON.parse refuses the text).
  const texts = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const out = texts.map((text) => {
    try {
      const value = JSON.parse(text);
      return value && typeof value === "object" ? JSON.stringify(sortObject(value)) : "not-object";
    } catch (e) {
      return null;
    }
  });
  process.stdout.write(JSON.stringify(out));
} else {
  const vectors = bodies.map((body) => ({
  body,
  secret,
  signature: crypto
    .createHmac("sha512", secret)
    .update(JSON.stringify(sortObject(JSON.parse(body))))
    .digest("hex"),
    sorted: JSON.stringify(sortObject(JSON.parse(body))),
  }));
  process.stdout.write(JSON.stringify(vectors));
}
