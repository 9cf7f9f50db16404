#!/usr/bin/python3
"""Walks through filterd's server console in headless Chromium, as an operator would.

Logs in, watches a message arrive in the live log without reloading, checks that a hostile
subject renders inert, and releases a quarantined message. Screenshots of each step go to
--screenshots. Prints one JSON line with what it saw; exits non-zero with the reason on the
first step that fails. Mail is sent over SMTP to --smtp-port (Postfix's public smtpd)."""

import argparse
import json
import smtplib
import sys
import time
from email.message import EmailMessage

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

HOSTILE_SUBJECT = "<script>window.__filterdInjected=1</script> <img src=x> hold me"


class StepFailed(Exception):
    pass


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def send(port, sender, recipient, subject, body):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.send_message(message)


def wait_for(driver, seconds, condition, what):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.2).until(condition)
    except TimeoutException:
        raise StepFailed(f"timed out after {seconds} s waiting for {what} on {driver.current_url}")


def live_row_containing(text):
    def find(driver):
        for row in driver.find_elements(By.CSS_SELECTOR, "#live-messages tr[data-queue-id]"):
            if text in row.text:
                return row
        return False
    return find


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True, help="the console, e.g. http://127.0.0.1:9025")
    parser.add_argument("--user", required=True)
    parser.add_argument("--password-file", required=True)
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--recipient", required=True)
    parser.add_argument("--screenshots", required=True)
    parser.add_argument("--timeout", type=float, default=90)
    arguments = parser.parse_args()
    password = open(arguments.password_file).read().strip()
    seen = {}
    driver = browser()
    try:
        step = "login"
        driver.get(arguments.base + "/messages")
        wait_for(driver, arguments.timeout, EC.presence_of_element_located((By.ID, "login")), "the login form")
        seen["redirected_to_login"] = "/login" in driver.current_url
        driver.find_element(By.NAME, "username").send_keys(arguments.user)
        driver.find_element(By.NAME, "password").send_keys(password)
        driver.find_element(By.ID, "login").click()
        wait_for(driver, arguments.timeout, EC.presence_of_element_located((By.ID, "live-messages")), "the message log after login")
        seen["after_login"] = driver.current_url
        driver.save_screenshot(f"{arguments.screenshots}/1-logged-in.png")

        step = "live update"
        driver.execute_script("window.__filterdSamePage = 'yes';")
        send(arguments.smtp_port, "friend@example.test", arguments.recipient, "Hello, live console", "A message to watch arrive.")
        row = wait_for(driver, arguments.timeout, live_row_containing("Hello, live console"), "the new message in the live log")
        seen["live_row"] = row.text
        if driver.execute_script("return window.__filterdSamePage;") != "yes":
            raise StepFailed("the page reloaded: the row did not arrive live")
        driver.save_screenshot(f"{arguments.screenshots}/2-live-message.png")

        step = "hostile subject"
        send(arguments.smtp_port, "stranger@example.test", arguments.recipient, HOSTILE_SUBJECT, "<script>alert(1)</script>")
        row = wait_for(driver, arguments.timeout, live_row_containing("hold me"), "the quarantined message in the live log")
        seen["hostile_row"] = row.text
        if "<script>" not in row.text:
            raise StepFailed(f"the hostile subject is not shown as text: {row.text!r}")
        if driver.execute_script("return window.__filterdInjected;") is not None:
            raise StepFailed("the script in the subject ran")
        if driver.find_elements(By.CSS_SELECTOR, "#live-messages img"):
            raise StepFailed("the <img> in the subject became an element")

        step = "quarantine"
        driver.find_element(By.ID, "nav-quarantine").click()
        def quarantined_row(driver):
            for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-quarantine-id]"):
                if "hold me" in row.text:
                    return row
            driver.refresh()
            return False
        row = wait_for(driver, arguments.timeout, quarantined_row, "the message in the quarantine")
        entry = row.get_attribute("data-quarantine-id")
        seen["quarantine_id"] = entry
        if driver.execute_script("return window.__filterdInjected;") is not None:
            raise StepFailed("the script in the subject ran on the quarantine page")
        driver.save_screenshot(f"{arguments.screenshots}/3-quarantine.png")
        row.find_element(By.CSS_SELECTOR, "button.release").click()
        flash = wait_for(driver, arguments.timeout, EC.presence_of_element_located((By.ID, "flash")), "the release confirmation")
        seen["flash"] = flash.text
        if driver.find_elements(By.CSS_SELECTOR, f'tr[data-quarantine-id="{entry}"]'):
            raise StepFailed("the released entry is still listed")
        driver.save_screenshot(f"{arguments.screenshots}/4-released.png")
        print(json.dumps(seen))
    except StepFailed as failure:
        driver.save_screenshot(f"{arguments.screenshots}/failed-{step.replace(' ', '-')}.png")
        print(f"browser walkthrough failed at step '{step}': {failure}", file=sys.stderr)
        print(driver.page_source[:4000], file=sys.stderr)
        return 1
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
