"""`ltigate demo`: a small LTI 1.3 platform (the demo LMS), a small app behind the gateway, and a runner
that serves both next to the gateway so a launch can be followed end to end in a browser.
"""
