#!/usr/bin/env python3
"""Walks the campaign report in a real headless Chromium, as a person would, and prints what it saw.

Standard library plus scripts/lib/browser.py. Steps: open /report/login, type the token into the
form and submit it; open the campaign's page and count the chart's points; look a person up with
the lookup form; send the lookup form once more with its CSRF field removed; sign out. Prints one
JSON object with the observations (the Swift test asserts on them) and, with --screenshot, saves a
full-page PNG of the campaign page showing the lookup's answer.

    report_browser.py --base http://127.0.0.1:PORT --token TOKEN --campaign ID --lookup QUERY
                      [--screenshot out.png]
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from browser import Browser  # noqa: E402


def js_string(text):
    return json.dumps(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--campaign", required=True)
    parser.add_argument("--lookup", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    seen = {}
    try:
        walk(args, seen)
    except Exception as error:  # what was seen so far, for the test's message
        seen["error"] = "%s: %s" % (type(error).__name__, error)
        print(json.dumps(seen))
        sys.exit(1)
    print(json.dumps(seen))


def walk(args, seen):
    with Browser(width=1280, height=900) as browser:
        browser.navigate(args.base + "/report/login")
        seen["login_status"] = browser.last_document_status()
        seen["login_has_csrf_field"] = browser.evaluate("!!document.querySelector('form input[name=csrf]')")
        browser.submit(
            "document.querySelector('input[name=token]').value = %s;"
            "document.querySelector('form').requestSubmit()" % js_string(args.token))
        seen["signed_in_url"] = browser.url()
        seen["signed_in_status"] = browser.last_document_status()
        # HttpOnly: the page's scripts cannot read the session cookie.
        seen["script_visible_cookies"] = browser.evaluate("document.cookie")

        browser.navigate(args.base + "/report/campaigns/" + args.campaign)
        seen["page_status"] = browser.last_document_status()
        seen["page_url"] = browser.url()
        seen["page_text"] = browser.evaluate("document.body.innerText.slice(0, 300)")
        seen["chart_points"] = browser.evaluate("document.querySelectorAll('#progress-chart circle.point').length")
        seen["chart_data_points"] = browser.evaluate(
            "(document.querySelector('#progress-chart') || {getAttribute: () => null}).getAttribute('data-points')")
        seen["chart_days"] = browser.evaluate(
            "Array.from(document.querySelectorAll('#progress-chart circle.point')).map(c => c.getAttribute('data-day'))")
        seen["chart_rendered_width"] = browser.evaluate(
            "(c => c ? Math.round(c.getBoundingClientRect().width) : 0)(document.querySelector('#progress-chart'))")
        seen["migrated_text"] = browser.evaluate("(document.querySelector('#migrated') || {}).textContent || null")
        seen["remaining_text"] = browser.evaluate("(document.querySelector('#remaining') || {}).textContent || null")

        browser.submit(
            "document.querySelector('form.lookup input[name=query]').value = %s;"
            "document.querySelector('form.lookup').requestSubmit()" % js_string(args.lookup))
        seen["lookup_status"] = browser.last_document_status()
        seen["lookup_people"] = browser.evaluate(
            "Array.from(document.querySelectorAll('#lookup-result article.person')).map(a => a.getAttribute('data-user'))")
        seen["lookup_events"] = browser.evaluate("document.querySelectorAll('#lookup-result table.events tbody tr').length")
        if args.screenshot:
            browser.screenshot(args.screenshot)

        # The same form without its CSRF field: refused.
        browser.submit(
            "const form = document.querySelector('form.lookup');"
            "form.querySelector('input[name=csrf]').remove();"
            "form.querySelector('input[name=query]').value = %s;"
            "form.requestSubmit()" % js_string(args.lookup))
        seen["no_csrf_status"] = browser.last_document_status()
        seen["no_csrf_text"] = browser.evaluate("document.body.innerText.slice(0, 200)")

        browser.navigate(args.base + "/report/campaigns/" + args.campaign)
        browser.submit("document.querySelector('form.signout').requestSubmit()")
        seen["signed_out_url"] = browser.url()
        browser.navigate(args.base + "/report/campaigns/" + args.campaign)
        seen["after_sign_out_url"] = browser.url()


if __name__ == "__main__":
    main()
